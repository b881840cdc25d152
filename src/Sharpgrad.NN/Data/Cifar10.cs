namespace Sharpgrad.NN;

/// <summary>
/// The CIFAR-10 binary version: data_batch_1.bin .. data_batch_5.bin and test_batch.bin, each a sequence of
/// 3073-byte records (1 label byte, then 3x32x32 pixels, channel-major).
/// </summary>
public static class Cifar10
{
    /// <summary>Bytes per record.</summary>
    public const int RecordSize = 1 + 3 * 32 * 32;

    /// <summary>CIFAR-10's class names.</summary>
    public static readonly string[] Classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Loads the six files from <paramref name="dir"/>.</summary>
    public static DatasetPair Load(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir)) throw new DataException($"{dir}: CIFAR-10 folder not found (expected data_batch_1.bin .. data_batch_5.bin and test_batch.bin).");
        var train = Enumerable.Range(1, 5).Select(i => Path.Combine(dir, $"data_batch_{i}.bin")).ToArray();
        return new DatasetPair("cifar10", ReadFiles(train), ReadFiles([Path.Combine(dir, "test_batch.bin")]));
    }

    /// <summary>Reads and concatenates CIFAR-10 binary files.</summary>
    public static ImageDataset ReadFiles(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        var pixels = new List<byte[]>();
        var labels = new List<int>();
        foreach (var path in paths)
        {
            if (!File.Exists(path)) throw new DataException($"{path}: CIFAR-10 file not found.");
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DataException($"{path}: cannot read ({e.Message}).", e);
            }
            if (bytes.Length == 0 || bytes.Length % RecordSize != 0)
                throw new DataException($"{path}: size {bytes.Length} bytes is not a positive multiple of {RecordSize} (one label byte + 3x32x32 pixels per record).");
            int n = bytes.Length / RecordSize;
            var px = new byte[n * (RecordSize - 1)];
            for (int i = 0; i < n; i++)
            {
                int label = bytes[i * RecordSize];
                if (label >= Classes.Length) throw new DataException($"{path}: label {label} of record {i} is out of range for 10 classes.");
                labels.Add(label);
                Array.Copy(bytes, i * RecordSize + 1, px, i * (RecordSize - 1), RecordSize - 1);
            }
            pixels.Add(px);
        }
        return new ImageDataset(pixels.SelectMany(p => p).ToArray(), [.. labels], 3, 32, 32, Classes, string.Join(", ", paths));
    }
}
