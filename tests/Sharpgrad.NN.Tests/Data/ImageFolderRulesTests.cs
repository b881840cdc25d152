using System.Text.Json.Nodes;
using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>Image folders as users lay them out, and image files as they arrive (cut short, rotated, in odd formats).</summary>
public sealed class ImageFolderRulesTests
{
    private static string Error(Action a) => Assert.Throws<DataException>(a).Message;

    private static byte[] Grey(byte shade) => TestFiles.Png(4, 4, 1, (_, _, _) => shade);

    // train/ and test/ (or val/) with classes a and b, two images each
    private static string Layout(TestFiles f, string test = "test")
    {
        foreach (var split in new[] { "train", test })
            foreach (var cls in new[] { "a", "b" })
            {
                Directory.CreateDirectory(f.Path("d", split, cls));
                for (int i = 0; i < 2; i++) File.WriteAllBytes(f.Path("d", split, cls, $"{i}.png"), Grey((byte)(cls == "a" ? 10 + i : 200 + i)));
            }
        return f.Path("d");
    }

    [Fact]
    public void HiddenAndSystemEntriesAreIgnored()
    {
        using var f = new TestFiles();
        var dir = Layout(f);
        Directory.CreateDirectory(f.Path("d", "train", ".ipynb_checkpoints"));
        Directory.CreateDirectory(f.Path("d", "__MACOSX", "train"));
        File.WriteAllBytes(f.Path("d", "train", "a", ".DS_Store"), [1, 2, 3]);
        File.WriteAllBytes(f.Path("d", "train", "a", "._0.png"), [0, 5, 22]);
        File.WriteAllText(f.Path("d", "train", "b", "Thumbs.db"), "x");
        Directory.CreateDirectory(f.Path("d", "train", "b", ".thumbs"));
        var pair = ImageFolder.Load(dir);
        Assert.Equal(["a", "b"], pair.Train.ClassNames);
        Assert.Equal((4, 4), (pair.Train.Count, pair.Test.Count));
    }

    [Fact]
    public void ValIsTheTestSplit()
    {
        using var f = new TestFiles();
        var pair = ImageFolder.Load(Layout(f, "val"));
        Assert.Equal(4, pair.Test.Count);
        Assert.EndsWith("val", pair.Test.Source);
        Directory.CreateDirectory(f.Path("d", "test", "a"));
        Assert.Contains("has both test/ and val/; keep one as the test split", Error(() => ImageFolder.Load(f.Path("d"))));
    }

    [Fact]
    public void BadLayoutsAreRefusedWithTheirNames()
    {
        using var f = new TestFiles();
        var dir = Layout(f);
        Directory.CreateDirectory(f.Path("d", "train", "c"));
        Assert.Equal($"{f.Path("d", "train", "c")}: class folder 'c' holds no images.", Error(() => ImageFolder.Load(dir)));
        Directory.CreateDirectory(f.Path("d", "train", "c", "more"));
        File.WriteAllBytes(f.Path("d", "train", "c", "more", "0.png"), Grey(1));
        Assert.Equal($"{f.Path("d", "train", "c")}: subfolder more/ inside a class folder; images must sit directly in their class folder.", Error(() => ImageFolder.Load(dir)));
        Directory.Delete(f.Path("d", "train", "c", "more"), recursive: true);
        File.WriteAllText(f.Path("d", "train", "c", "0.gif"), "GIF89a");
        Assert.StartsWith($"{f.Path("d", "train", "c", "0.gif")}: not a .png, .jpg, .jpeg, .bmp file; class folders hold only images.", Error(() => ImageFolder.Load(dir)));
        Directory.Delete(f.Path("d", "train", "c"), recursive: true);

        Directory.CreateDirectory(f.Path("d", "test", "zebra"));
        File.WriteAllBytes(f.Path("d", "test", "zebra", "0.png"), Grey(1));
        Assert.Equal($"{f.Path("d", "test")}: class folder 'zebra' is not among the training classes (a, b).", Error(() => ImageFolder.Load(dir)));
        Directory.Delete(f.Path("d", "test", "zebra"), recursive: true);

        File.WriteAllBytes(f.Path("d", "test", "loose.png"), Grey(1));
        Assert.Equal($"{f.Path("d", "test")}: loose files beside the class folders (loose.png); put each image in its class's subfolder.", Error(() => ImageFolder.Load(dir)));
        File.Delete(f.Path("d", "test", "loose.png"));
        File.WriteAllText(f.Path("d", "README.txt"), "x");
        Assert.Equal($"{dir}: unexpected entry README.txt beside train/ and test/.", Error(() => ImageFolder.Load(dir)));
        File.Delete(f.Path("d", "README.txt"));
        Directory.Delete(f.Path("d", "test"), recursive: true);
        Assert.Equal($"{dir}: has train/ but no test/ or val/ folder beside it.", Error(() => ImageFolder.Load(dir)));
    }

    [Fact]
    public void TooFewImagesForASplitIsAnError()
    {
        using var f = new TestFiles();
        foreach (var cls in new[] { "a", "b" })
        {
            Directory.CreateDirectory(f.Path("d", cls));
            File.WriteAllBytes(f.Path("d", cls, "0.png"), Grey(3));
        }
        Assert.Contains("2 images are too few for a 80/20 split", Error(() => ImageFolder.Load(f.Path("d"))));
    }

    /// <summary>The image a viewer shows: each EXIF orientation gives the quadrant colours PIL's exif_transpose gives (tools/make_fuzz_corpus.py).</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void ExifOrientationIsAppliedAsPilDoes(int orientation)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "exif");
        var expected = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")))![orientation.ToString(System.Globalization.CultureInfo.InvariantCulture)]!;
        var (c, h, w, px) = ImageFolder.Decode(Path.Combine(dir, $"orientation{orientation}.jpg"));
        Assert.Equal(3, c);
        Assert.Equal((expected["size"]![0]!.GetValue<int>(), expected["size"]![1]!.GetValue<int>()), (w, h));
        int q = 0;
        foreach (var y in new[] { h / 4, 3 * h / 4 })
            foreach (var x in new[] { w / 4, 3 * w / 4 })
            {
                var want = expected["quadrants"]![q++]!.AsArray().Select(v => v!.GetValue<int>()).ToArray();
                for (int ch = 0; ch < 3; ch++)
                    Assert.InRange(px[ch * h * w + y * w + x], want[ch] - 12, want[ch] + 12);
            }
    }

    [Fact]
    public void CutAndCorruptImagesAreErrorsNamingTheFile()
    {
        var corpus = Fuzz.FuzzHarness.CorpusRoot;
        var jpeg = File.ReadAllBytes(Path.Combine(corpus, "jpeg", "baseline.jpg"));
        Assert.Equal((3, 8, 16), ImageFolder.Decode(jpeg, "x.jpg") is var d ? (d.C, d.H, d.W) : default);
        Assert.Equal("x.jpg: JPEG is truncated in the image data of scan 1 (no EOI marker at the end).", Error(() => ImageFolder.Decode(jpeg[..^2], "x.jpg")));
        Assert.Equal("x.jpg: JPEG segment 0xFFE0 at byte 2 claims 16 bytes, past the end of the 6-byte file (truncated?).", Error(() => ImageFolder.Decode(jpeg[..6], "x.jpg")));
        var png = File.ReadAllBytes(Path.Combine(corpus, "png", "rgb.png"));
        var bad = (byte[])png.Clone();
        bad[45] ^= 1;
        Assert.Matches(@"^x\.png: PNG chunk IDAT at byte 33 has a bad CRC", Error(() => ImageFolder.Decode(bad, "x.png")));
        Assert.Equal("x.png: PNG is truncated at byte 69 (expected a chunk or IEND).", Error(() => ImageFolder.Decode(png[..^6], "x.png")));
        var bmp = File.ReadAllBytes(Path.Combine(corpus, "bmp", "rgb.bmp"));
        Assert.Equal((3, 6, 8), ImageFolder.Decode(bmp, "x.bmp") is var b ? (b.C, b.H, b.W) : default);
        Assert.Contains("x.bmp: BMP pixel data", Error(() => ImageFolder.Decode(bmp[..^10], "x.bmp")));
        Assert.Equal("x.gif: not a PNG, JPEG or BMP image (its first bytes are none of theirs).", Error(() => ImageFolder.Decode("GIF89a"u8.ToArray(), "x.gif")));
    }

    [Fact]
    public void EveryPngKindDecodesAsPilReadsIt()
    {
        var corpus = Path.Combine(Fuzz.FuzzHarness.CorpusRoot, "png");
        // (channels, height, width, first value) of each seed, as PIL reads them (grey16: 0 >> 8; palette and RGB(A): R of pixel 0)
        Assert.Equal((1, 6, 8), Shape(ImageFolder.Decode(Path.Combine(corpus, "grey.png"))));
        Assert.Equal((3, 6, 8), Shape(ImageFolder.Decode(Path.Combine(corpus, "interlaced.png"))));
        Assert.Equal(ImageFolder.Decode(Path.Combine(corpus, "rgb.png")).Pixels, ImageFolder.Decode(Path.Combine(corpus, "interlaced.png")).Pixels);
        Assert.Equal((1, 3, 4), Shape(ImageFolder.Decode(Path.Combine(corpus, "grey16.png"))));
        Assert.Equal((3, 6, 8), Shape(ImageFolder.Decode(Path.Combine(corpus, "palette.png"))));
        Assert.Equal((1, 4, 4), Shape(ImageFolder.Decode(Path.Combine(corpus, "grey-alpha.png"))));
        static (int, int, int) Shape((int C, int H, int W, byte[] P) d) => (d.C, d.H, d.W);
    }
}
