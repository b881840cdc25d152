using System.Buffers.Binary;
using System.IO.Compression;

namespace Sharpgrad.NN;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST (raw or gzip): magic 0x00 0x00 type ndims, big-endian int32 sizes,
/// then unsigned bytes. A file whose name ends in .gz must be gzip, and one that does not must be raw.
/// </summary>
public static class Idx
{
    /// <summary>Reads an IDX file of unsigned bytes; returns its dimensions and data.</summary>
    public static (int[] Dims, byte[] Data) Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = ReadMaybeGzip(path);
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0)
            throw new DataException($"{path}: not an IDX file (expected magic bytes 0x00 0x00 at the start).");
        if (bytes[2] != 0x08)
            throw new DataException($"{path}: IDX element type 0x{bytes[2]:X2} is not supported (expected 0x08, unsigned bytes).");
        int nd = bytes[3];
        if (nd < 1 || nd > 4 || bytes.Length < 4 + 4 * nd)
            throw new DataException($"{path}: IDX header is truncated or has {nd} dimensions (expected 1 to 4).");
        var dims = new int[nd];
        long count = 1;
        for (int i = 0; i < nd; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (dims[i] < 0) throw new DataException($"{path}: IDX dimension {i} is negative ({dims[i]}).");
            count *= dims[i];
        }
        long header = 4 + 4L * nd;
        if (bytes.Length - header != count)
            throw new DataException($"{path}: IDX data is {(bytes.Length - header < count ? "truncated" : "longer than its header says")}: header [{string.Join("x", dims)}] needs {count} bytes, file has {bytes.Length - header}.");
        return (dims, bytes[(int)header..]);
    }

    private static byte[] ReadMaybeGzip(string path)
    {
        byte[] raw;
        try
        {
            raw = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{path}: cannot read ({e.Message}).", e);
        }
        bool isGzip = raw.Length >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
        bool namedGz = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
        if (namedGz && !isGzip) throw new DataException($"{path}: expected gzip data (the name ends in .gz) but found raw bytes.");
        if (!namedGz && isGzip) throw new DataException($"{path}: expected a raw IDX file but found gzip data; name it with .gz.");
        if (!isGzip) return raw;
        try
        {
            using var gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return ms.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new DataException($"{path}: gzip data is corrupt or truncated ({e.Message}).", e);
        }
    }

    /// <summary>Finds NAME or NAME.gz in <paramref name="dir"/>.</summary>
    internal static string Find(string dir, string name)
    {
        foreach (var candidate in new[] { name + ".gz", name })
        {
            var p = Path.Combine(dir, candidate);
            if (File.Exists(p)) return p;
        }
        throw new DataException($"{dir}: missing {name} (or {name}.gz).");
    }
}

/// <summary>MNIST-style datasets in IDX files: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-... (raw or .gz).</summary>
public static class MnistIdx
{
    /// <summary>Fashion-MNIST's class names.</summary>
    public static readonly string[] FashionClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads the four files from <paramref name="dir"/>.</summary>
    public static DatasetPair Load(string dir, string name, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir)) throw new DataException($"{dir}: data folder not found (expected the four IDX files of {name}).");
        var classes = classNames ?? Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new DatasetPair(name,
            LoadPart(Idx.Find(dir, "train-images-idx3-ubyte"), Idx.Find(dir, "train-labels-idx1-ubyte"), classes),
            LoadPart(Idx.Find(dir, "t10k-images-idx3-ubyte"), Idx.Find(dir, "t10k-labels-idx1-ubyte"), classes));
    }

    /// <summary>Loads one images file and its labels file.</summary>
    public static ImageDataset LoadPart(string imagesPath, string labelsPath, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        var (idims, pixels) = Idx.Read(imagesPath);
        var (ldims, labels) = Idx.Read(labelsPath);
        if (idims.Length != 3) throw new DataException($"{imagesPath}: expected an image file with 3 dimensions (N, H, W), got [{string.Join("x", idims)}].");
        if (ldims.Length != 1) throw new DataException($"{labelsPath}: expected a label file with 1 dimension (N), got [{string.Join("x", ldims)}].");
        if (idims[0] != ldims[0]) throw new DataException($"{imagesPath} has {idims[0]} images but {labelsPath} has {ldims[0]} labels.");
        var lab = labels.Select(b => (int)b).ToArray();
        for (int i = 0; i < lab.Length; i++)
            if (lab[i] >= classNames.Count)
                throw new DataException($"{labelsPath}: label {lab[i]} of example {i} is out of range for {classNames.Count} classes.");
        return new ImageDataset(pixels, lab, 1, idims[1], idims[2], classNames, imagesPath);
    }
}
