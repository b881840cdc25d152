using System.Buffers.Binary;
using System.IO.Compression;

namespace Sharpgrad.NN;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST (raw or gzip): magic 0x00 0x00 type ndims, big-endian int32 sizes,
/// then unsigned bytes. A file whose name ends in .gz must be gzip, and one that does not must be raw.
/// </summary>
public static class Idx
{
    /// <summary>
    /// The most data bytes an IDX file may claim (2^30, 1 GiB; MNIST's training images are 47 MB): the header's
    /// dimensions are multiplied in 64-bit and checked against it before anything is allocated.
    /// </summary>
    public const long MaxDataBytes = 1L << 30;

    /// <summary>
    /// Reads an IDX file of unsigned bytes; returns its dimensions and data. The header is read first (from the
    /// decompressed stream for gzip); the data are then read up to the size the header claims, never more, so a
    /// small .gz file cannot expand to more memory than its header admits.
    /// </summary>
    /// <exception cref="DataException">The file is missing, not IDX, gzip where raw was expected (or the reverse), truncated, longer than its header says, or claims more than <see cref="MaxDataBytes"/>.</exception>
    public static (int[] Dims, byte[] Data) Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            Span<byte> magic = stackalloc byte[2];
            int m = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            bool isGzip = m == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
            bool namedGz = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
            if (m == 0) throw new DataException($"{path}: the file is empty (expected {(namedGz ? "gzip data holding an IDX file" : "an IDX file")}).");
            if (namedGz && !isGzip) throw new DataException($"{path}: expected gzip data (the name ends in .gz) but found raw bytes.");
            if (!namedGz && isGzip) throw new DataException($"{path}: expected a raw IDX file but found gzip data; name it with .gz.");
            file.Position = 0;
            using Stream s = isGzip ? new GZipStream(file, CompressionMode.Decompress) : file;
            return Read(s, path, isGzip ? null : file.Length);
        }
        catch (InvalidDataException e)
        {
            // GZipStream reports every zlib data error as "unsupported compression method": the file says which it is
            throw new DataException($"{path}: {GzipFault(path)}.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{path}: cannot read ({e.Message}).", e);
        }
    }

    /// <summary>
    /// Why gzip data did not decompress (RFC 1952): a compression method other than deflate, reserved flags, a header
    /// cut short, deflate data that do not decode, or a trailer whose CRC-32 or length disagrees with the data. The
    /// trailer is taken as the file's last 8 bytes (one gzip member, as IDX files are); the data are decompressed
    /// again, at most <see cref="MaxDataBytes"/> plus the largest IDX header, only on this error path.
    /// </summary>
    private static string GzipFault(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            Span<byte> h = stackalloc byte[10];
            if (file.ReadAtLeast(h, 10, throwOnEndOfStream: false) < 10) return "the gzip header is truncated (10 bytes expected)";
            if (h[2] != 8) return $"gzip compression method {h[2]} is not supported (expected 8, deflate)";
            int flags = h[3];
            if ((flags & 0xE0) != 0) return $"the gzip header sets reserved flag bits (flags 0x{flags:X2})";
            if ((flags & 4) != 0) // FEXTRA: a 2-byte length, then that many bytes
            {
                if (file.ReadAtLeast(h[..2], 2, throwOnEndOfStream: false) < 2) return "the gzip header is truncated (in its extra field)";
                file.Seek(BinaryPrimitives.ReadUInt16LittleEndian(h), SeekOrigin.Current);
            }
            for (int flag = 8; flag <= 16; flag *= 2) // FNAME, FCOMMENT: zero-terminated
                if ((flags & flag) != 0)
                    for (int b = file.ReadByte(); b != 0; b = file.ReadByte())
                        if (b < 0) return "the gzip header is truncated (in its file name or comment)";
            if ((flags & 2) != 0) file.Seek(2, SeekOrigin.Current); // FHCRC
            if (file.Position + 8 > file.Length) return "the gzip data is truncated (no deflate data and 8-byte trailer after the header)";
            uint crc = 0;
            long length = 0;
            using (var deflate = new DeflateStream(file, CompressionMode.Decompress, leaveOpen: true))
            {
                var buffer = new byte[1 << 16];
                for (int n; (n = deflate.Read(buffer)) > 0 && length <= MaxDataBytes + 20;)
                {
                    crc = ImageCheck.Crc32(crc, buffer.AsSpan(0, n));
                    length += n;
                }
            }
            file.Seek(-8, SeekOrigin.End);
            Span<byte> trailer = stackalloc byte[8];
            file.ReadExactly(trailer);
            uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer), storedLength = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
            if (storedLength != (uint)length)
                return $"the gzip data is truncated or corrupt (its trailer gives a length of {storedLength} bytes mod 2^32; the deflate data decompress to {length})";
            if (storedCrc != crc)
                return $"the gzip data is corrupt: its CRC-32 check failed (the trailer says 0x{storedCrc:x8}; the {length} decompressed bytes give 0x{crc:x8})";
            return "the gzip data is corrupt (after its first member)";
        }
        catch (InvalidDataException)
        {
            return "the gzip data is corrupt: its deflate data do not decode";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the gzip data is corrupt or truncated ({e.Message.ReplaceLineEndings(" ")})";
        }
    }

    // the header, checked, then exactly the data it claims; rawLength: the file's size when it is not compressed
    private static (int[] Dims, byte[] Data) Read(Stream s, string path, long? rawLength)
    {
        Span<byte> head = stackalloc byte[4 + 4 * 4];
        int start = s.ReadAtLeast(head[..4], 4, throwOnEndOfStream: false);
        if (start == 0 && rawLength is null)
            throw new DataException($"{path}: the gzip data decompress to nothing (expected an IDX file).");
        if (start < 4 || head[0] != 0 || head[1] != 0)
            throw new DataException($"{path}: not an IDX file (expected magic bytes 0x00 0x00 at the start).");
        if (head[2] != 0x08)
            throw new DataException($"{path}: IDX element type 0x{head[2]:X2} is not supported (expected 0x08, unsigned bytes).");
        int nd = head[3];
        if (nd < 1 || nd > 4 || s.ReadAtLeast(head.Slice(4, 4 * nd), 4 * nd, throwOnEndOfStream: false) < 4 * nd)
            throw new DataException($"{path}: IDX header is truncated or has {nd} dimensions (expected 1 to 4).");
        var dims = new int[nd];
        long count = 1;
        for (int i = 0; i < nd; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(head[(4 + 4 * i)..]);
            if (dims[i] < 0) throw new DataException($"{path}: IDX dimension {i} is negative ({dims[i]}).");
            count = Math.Min(count * dims[i], MaxDataBytes + 1); // 4 dims of < 2^31 each: clamped, never overflows
        }
        string shape = string.Join("x", dims);
        if (count > MaxDataBytes)
            throw new DataException($"{path}: IDX header [{shape}] claims more than the {MaxDataBytes} data bytes allowed.");
        long header = 4 + 4L * nd;
        if (rawLength is long length && length - header != count)
            throw new DataException($"{path}: IDX data is {(length - header < count ? "truncated" : "longer than its header says")}: header [{shape}] needs {count} bytes, file has {length - header}.");
        // grown as data arrives: a header that claims more than the stream holds costs only what it holds
        var data = new byte[Math.Min(count, 1 << 20)];
        long got = 0;
        while (got < count)
        {
            if (got == data.Length) Array.Resize(ref data, (int)Math.Min(count, 2L * data.Length));
            int n = s.Read(data, (int)got, data.Length - (int)got);
            if (n == 0) break;
            got += n;
        }
        if (got < count)
            throw new DataException($"{path}: IDX data is truncated: header [{shape}] needs {count} bytes, {(rawLength is null ? "the gzip stream holds" : "file has")} {got}.");
        Span<byte> one = stackalloc byte[1];
        if (s.Read(one) > 0)
            throw new DataException($"{path}: IDX data is longer than its header says: header [{shape}] needs {count} bytes.");
        return (dims, data);
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
