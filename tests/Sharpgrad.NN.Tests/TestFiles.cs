using System.Buffers.Binary;
using System.IO.Compression;

namespace Sharpgrad.NN.Tests;

/// <summary>Writes small data files in the formats the loaders read, in a temporary folder that is removed on dispose.</summary>
internal sealed class TestFiles : IDisposable
{
    public TestFiles() => Directory.CreateDirectory(Root);

    public string Root { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sharpgrad-tests-" + Guid.NewGuid().ToString("N"));

    public string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }

    public static byte[] Idx(int[] dims, byte[] data)
    {
        var b = new byte[4 + 4 * dims.Length + data.Length];
        b[2] = 0x08;
        b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(b, 4 + 4 * dims.Length);
        return b;
    }

    public static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>Writes an MNIST-style folder of n train and m test images (h x w), labels i % classes.</summary>
    public string MnistFolder(string name, int n, int m, int h = 6, int w = 5, bool gzip = true, int classes = 10)
    {
        var dir = Path(name);
        Directory.CreateDirectory(dir);
        void Write(string file, byte[] content) => File.WriteAllBytes(System.IO.Path.Combine(dir, file + (gzip ? ".gz" : "")), gzip ? Gzip(content) : content);
        foreach (var (prefix, count) in new[] { ("train", n), ("t10k", m) })
        {
            var px = new byte[count * h * w];
            for (int i = 0; i < px.Length; i++) px[i] = (byte)(i * 7 % 256);
            Write($"{prefix}-images-idx3-ubyte", Idx([count, h, w], px));
            Write($"{prefix}-labels-idx1-ubyte", Idx([count], Enumerable.Range(0, count).Select(i => (byte)(i % classes)).ToArray()));
        }
        return dir;
    }

    /// <summary>A minimal PNG encoder (8-bit grey or RGB, no filtering).</summary>
    public static byte[] Png(int width, int height, int channels, Func<int, int, int, byte> pixel)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = (byte)(channels == 1 ? 0 : 2);
        Chunk(ms, "IHDR", ihdr);
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++) raw.WriteByte(pixel(x, y, c));
        }
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest)) zs.Write(raw.ToArray());
        Chunk(ms, "IDAT", z.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var td = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(td);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(td));
        s.Write(crc);
    }

    private static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return c ^ 0xFFFFFFFF;
    }
}
