using Xunit;

namespace Sharpgrad.Cli.Tests;

/// <summary>`sharpgrad eval --model FILE.onnx`: an imported ONNX model on a dataset's test images.</summary>
[Collection("cli")]
public sealed class EvalOnnxTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SharpgradCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static readonly string Model = Path.Combine(AppContext.BaseDirectory, "exam-cnn.onnx");

    [Fact]
    public void EvalRunsAnOnnxModelOnTheBundledTestImages()
    {
        var (code, output, err) = Run("eval", "--model", Model, "--normalize", "0.286/0.353", "--threads", "2");
        Assert.True(code == 0, err);
        Assert.Contains("ONNX opset 17 from pytorch 1.13.0, 9 nodes, 10,362 parameters; input input: float32[?,1,28,28]; normalization (x - 0.286) / 0.353", output);
        Assert.Contains("test accuracy", output);
        Assert.Contains("on 10,000 images", output);
        Assert.Contains("9 Ankle boot", output);

        // with the mirror averaged in: a different evaluation, said so on the accuracy line
        var (flipCode, flipped, flipErr) = Run("eval", "--model", Model, "--normalize", "0.286/0.353", "--threads", "2", "--tta", "flip");
        Assert.True(flipCode == 0, flipErr);
        Assert.Contains("on 10,000 images (each averaged with its mirror: --tta flip)", flipped);
        Assert.NotEqual(output.Split('\n').First(l => l.StartsWith("test accuracy", StringComparison.Ordinal)),
            flipped.Split('\n').First(l => l.StartsWith("test accuracy", StringComparison.Ordinal)));
    }

    [Fact]
    public void EvalRefusesBadOnnxArguments()
    {
        var both = Run("eval", "--model", Model, "--checkpoint", "run");
        Assert.Equal(2, both.Code);
        Assert.Equal("error: eval: give either --checkpoint RUN or --model FILE.onnx.", both.Err.Trim());
        var tta = Run("eval", "--model", Model, "--tta", "mirror");
        Assert.Equal(2, tta.Code);
        Assert.Equal("error: --tta: expected none or flip, got \"mirror\".", tta.Err.Trim());
        var norm = Run("eval", "--model", Model, "--normalize", "0.5,0.5/1,1");
        Assert.Equal(2, norm.Code);
        Assert.StartsWith("error: --normalize: expected auto, file, data, none or MEAN/STD with 1 comma-separated value(s)", norm.Err.Trim());
        string truncated = Path.Combine(Path.GetTempPath(), $"sharpgrad-truncated-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(truncated, File.ReadAllBytes(Model)[..5000]);
        try
        {
            var bad = Run("eval", "--model", truncated);
            Assert.Equal(2, bad.Code);
            Assert.StartsWith($"error: {truncated}: not a valid ONNX file", bad.Err.Trim());
            Assert.Single(bad.Err.Trim().Split('\n'));
        }
        finally
        {
            File.Delete(truncated);
        }
    }
}
