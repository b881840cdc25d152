using Sharpgrad.NN;
using Xunit;

namespace Sharpgrad.NN.Tests.Data;

public sealed class LoaderTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IdxRoundTripRawAndGzip(bool gzip)
    {
        using var f = new TestFiles();
        var pair = MnistIdx.Load(f.MnistFolder("m", 12, 4, gzip: gzip), "test");
        Assert.Equal(12, pair.Train.Count);
        Assert.Equal(4, pair.Test.Count);
        Assert.Equal((1, 6, 5), (pair.Train.Channels, pair.Train.Height, pair.Train.Width));
        Assert.Equal(3, pair.Train.Labels[3]);
        Assert.Equal((byte)(7 % 256), pair.Train.Pixels[1]);
    }

    private static string Error(Action a) => Assert.Throws<DataException>(a).Message;

    [Fact]
    public void GzipFaultsAreNamedForWhatTheyAre()
    {
        using var f = new TestFiles();
        var idx = TestFiles.Idx([12, 6, 5], [.. Enumerable.Range(0, 360).Select(i => (byte)(i * 7))]);
        var gz = TestFiles.Gzip(idx);
        string Write(string name, byte[] bytes)
        {
            File.WriteAllBytes(f.Path(name), bytes);
            return f.Path(name);
        }
        uint crc = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(gz.AsSpan(gz.Length - 8));

        var badCrc = (byte[])gz.Clone();
        badCrc[^8] ^= 1;
        var p = Write("crc.gz", badCrc);
        Assert.Equal($"{p}: the gzip data is corrupt: its CRC-32 check failed (the trailer says 0x{crc ^ 1:x8}; the 376 decompressed bytes give 0x{crc:x8}).", Error(() => Idx.Read(p)));

        var badLength = (byte[])gz.Clone();
        badLength[^4] ^= 1;
        p = Write("length.gz", badLength);
        Assert.Equal($"{p}: the gzip data is truncated or corrupt (its trailer gives a length of 377 bytes mod 2^32; the deflate data decompress to 376).", Error(() => Idx.Read(p)));

        var method = (byte[])gz.Clone();
        method[2] = 7;
        p = Write("method.gz", method);
        Assert.Equal($"{p}: gzip compression method 7 is not supported (expected 8, deflate).", Error(() => Idx.Read(p)));

        var reserved = (byte[])gz.Clone();
        reserved[3] = 0x20;
        p = Write("reserved.gz", reserved);
        Assert.Equal($"{p}: the gzip header sets reserved flag bits (flags 0x20).", Error(() => Idx.Read(p)));

        p = Write("empty.gz", []);
        Assert.Equal($"{p}: the file is empty (expected gzip data holding an IDX file).", Error(() => Idx.Read(p)));
        p = Write("empty", []);
        Assert.Equal($"{p}: the file is empty (expected an IDX file).", Error(() => Idx.Read(p)));
        // a gzip member of no bytes: header, an empty final deflate block, CRC-32 0 and length 0
        p = Write("nothing.gz", [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Equal($"{p}: the gzip data decompress to nothing (expected an IDX file).", Error(() => Idx.Read(p)));
        // none says "unsupported compression method" (GZipStream's word for every zlib data error)
        foreach (var name in new[] { "crc.gz", "length.gz", "reserved.gz" })
            Assert.DoesNotContain("unsupported", Error(() => Idx.Read(f.Path(name))), StringComparison.Ordinal);
    }

    [Fact]
    public void IdxBadInputNamesTheFile()
    {
        using var f = new TestFiles();
        var dir = f.MnistFolder("m", 12, 4, gzip: false);
        string img = Path.Combine(dir, "train-images-idx3-ubyte"), lab = Path.Combine(dir, "train-labels-idx1-ubyte");
        string[] classes = [.. Enumerable.Range(0, 10).Select(i => i.ToString())];

        Assert.Contains("data folder not found", Error(() => MnistIdx.Load(f.Path("nope"), "x")));
        File.WriteAllBytes(f.Path("trunc"), File.ReadAllBytes(img)[..^7]);
        Assert.Equal($"{f.Path("trunc")}: IDX data is truncated: header [12x6x5] needs 360 bytes, file has 353.", Error(() => Idx.Read(f.Path("trunc"))));
        File.WriteAllBytes(f.Path("notidx"), "hello world"u8.ToArray());
        Assert.Contains("not an IDX file", Error(() => Idx.Read(f.Path("notidx"))));
        File.WriteAllBytes(f.Path("short"), [0, 0]);
        Assert.Contains("not an IDX file", Error(() => Idx.Read(f.Path("short"))));
        File.WriteAllBytes(f.Path("raw.gz"), File.ReadAllBytes(img));
        Assert.Contains("expected gzip data (the name ends in .gz) but found raw bytes", Error(() => Idx.Read(f.Path("raw.gz"))));
        File.WriteAllBytes(f.Path("gz-raw"), TestFiles.Gzip(File.ReadAllBytes(img)));
        Assert.Contains("expected a raw IDX file but found gzip data", Error(() => Idx.Read(f.Path("gz-raw"))));
        File.WriteAllBytes(f.Path("broken.gz"), TestFiles.Gzip(File.ReadAllBytes(img))[..20]);
        Assert.Contains("broken.gz", Error(() => Idx.Read(f.Path("broken.gz"))));
        File.WriteAllBytes(f.Path("labels5"), TestFiles.Idx([5], [1, 2, 3, 4, 5]));
        Assert.Equal($"{img} has 12 images but {f.Path("labels5")} has 5 labels.", Error(() => MnistIdx.LoadPart(img, f.Path("labels5"), classes)));
        File.WriteAllBytes(f.Path("labels-bad"), TestFiles.Idx([12], [.. Enumerable.Repeat((byte)11, 12)]));
        Assert.Contains("label 11 of example 0 is out of range for 10 classes", Error(() => MnistIdx.LoadPart(img, f.Path("labels-bad"), classes)));
        Assert.Contains("expected an image file with 3 dimensions", Error(() => MnistIdx.LoadPart(lab, lab, classes)));
        File.Delete(Path.Combine(dir, "t10k-labels-idx1-ubyte"));
        Assert.Contains("missing t10k-labels-idx1-ubyte", Error(() => MnistIdx.Load(dir, "x")));
    }

    private static byte[] CifarRecords(int n, Func<int, byte>? label = null)
    {
        var b = new byte[n * Cifar10.RecordSize];
        for (int i = 0; i < n; i++)
        {
            b[i * Cifar10.RecordSize] = label?.Invoke(i) ?? (byte)(i % 10);
            for (int k = 1; k < Cifar10.RecordSize; k++) b[i * Cifar10.RecordSize + k] = (byte)((i + k) % 251);
        }
        return b;
    }

    [Fact]
    public void CifarBinaryFormat()
    {
        using var f = new TestFiles();
        Directory.CreateDirectory(f.Path("c"));
        for (int i = 1; i <= 5; i++) File.WriteAllBytes(f.Path("c", $"data_batch_{i}.bin"), CifarRecords(3));
        File.WriteAllBytes(f.Path("c", "test_batch.bin"), CifarRecords(2));
        var pair = Cifar10.Load(f.Path("c"));
        Assert.Equal(15, pair.Train.Count);
        Assert.Equal(2, pair.Test.Count);
        Assert.Equal((3, 32, 32), (pair.Train.Channels, pair.Train.Height, pair.Train.Width));
        Assert.Equal(2, pair.Train.Labels[2]);
        Assert.Equal((byte)((1 + 1) % 251), pair.Train.Pixels[3072]); // record 1, first pixel

        File.WriteAllBytes(f.Path("c", "test_batch.bin"), CifarRecords(2)[..^5]);
        Assert.Contains("size 6141 bytes is not a positive multiple of 3073", Error(() => Cifar10.Load(f.Path("c"))));
        File.WriteAllBytes(f.Path("c", "test_batch.bin"), CifarRecords(2, _ => 10));
        Assert.Contains("label 10 of record 0 is out of range", Error(() => Cifar10.Load(f.Path("c"))));
        File.Delete(f.Path("c", "data_batch_3.bin"));
        Assert.Contains("data_batch_3.bin: CIFAR-10 file not found", Error(() => Cifar10.Load(f.Path("c"))));
    }

    [Fact]
    public void ImageFolders()
    {
        using var f = new TestFiles();
        foreach (var split in new[] { "train", "test" })
            foreach (var (cls, shade) in new[] { ("cat", 10), ("dog", 200) })
            {
                Directory.CreateDirectory(f.Path("img", split, cls));
                for (int i = 0; i < 3; i++)
                    File.WriteAllBytes(f.Path("img", split, cls, $"{i}.png"), TestFiles.Png(4, 3, 3, (x, y, c) => (byte)(shade + c + x)));
            }
        var pair = ImageFolder.Load(f.Path("img"));
        Assert.Equal(["cat", "dog"], pair.Train.ClassNames);
        Assert.Equal(6, pair.Train.Count);
        Assert.Equal((3, 3, 4), (pair.Train.Channels, pair.Train.Height, pair.Train.Width));
        Assert.Equal(new byte[] { 10, 11, 12, 13 }, pair.Train.Pixels[..4]);        // channel 0, row 0
        Assert.Equal(new byte[] { 11, 12, 13, 14 }, pair.Train.Pixels[12..16]);     // channel 1, row 0
        Assert.Equal(1, pair.Test.Labels[^1]);

        File.WriteAllBytes(f.Path("img", "train", "dog", "big.png"), TestFiles.Png(5, 3, 3, (_, _, _) => 0));
        Assert.Contains("big.png: image is 3x3x5 but", Error(() => ImageFolder.Load(f.Path("img"))));
        File.Delete(f.Path("img", "train", "dog", "big.png"));
        File.WriteAllBytes(f.Path("img", "train", "dog", "bad.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        Assert.Contains("bad.png", Error(() => ImageFolder.Load(f.Path("img"))));
        File.Delete(f.Path("img", "train", "dog", "bad.png"));
        File.WriteAllBytes(f.Path("img", "train", "dog", "huge.png"), TestFiles.Png(5000, 1, 1, (_, _, _) => 0));
        Assert.Contains("huge.png: PNG image is 5000x1; expected sides from 1 to 4096 pixels", Error(() => ImageFolder.Load(f.Path("img"))));
    }

    [Fact]
    public void DataLoaderIsSeededAndPrefetches()
    {
        using var f = new TestFiles();
        var data = MnistIdx.Load(f.MnistFolder("m", 50, 4), "test").Train;
        var aug = new ITransform[] { new RandomCrop(2), new RandomHorizontalFlip(), new Normalize([0.5], [0.25]) };
        var a = new DataLoader(data, 8, shuffle: true, seed: 3, transforms: aug);
        var b = new DataLoader(data, 8, shuffle: true, seed: 3, transforms: aug);
        var ea = a.Epoch(1).ToList();
        var eb = b.Epoch(1).ToList();
        Assert.Equal(7, ea.Count);
        Assert.Equal(2, ea[^1].Labels.Length);
        for (int i = 0; i < ea.Count; i++)
        {
            Assert.Equal(ea[i].Labels, eb[i].Labels);
            Assert.Equal(ea[i].Images.ToArray(), eb[i].Images.ToArray());
        }
        Assert.NotEqual(a.Order(1), a.Order(2));
        Assert.Equal(a.Order(1).Order(), Enumerable.Range(0, 50));
        Assert.Equal(6, new DataLoader(data, 8, dropLast: true).Epoch(0).Count());
        var plain = new DataLoader(data, 50).Epoch(0).Single();
        Assert.Equal([50, 1, 6, 5], plain.Images.Shape);
        Assert.Equal(data.Pixels[1] / 255f, plain.Images.ToArray()[1]);
        var (train, val) = data.Split(0.2, 1);
        Assert.Equal((40, 10), (train.Count, val.Count));
    }

    [Fact]
    public void NormalizeFromDataGivesZeroMeanUnitStd()
    {
        using var f = new TestFiles();
        var data = MnistIdx.Load(f.MnistFolder("m", 40, 4), "test").Train;
        var n = Normalize.FromData(data);
        var x = new DataLoader(data, 40, transforms: [n]).Epoch(0).Single().Images.ToArray();
        Assert.Equal(0, x.Average(), 4);
        Assert.Equal(1, Math.Sqrt(x.Select(v => (double)v * v).Average()), 3);
    }
}
