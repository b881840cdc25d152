using System.Text.Json.Nodes;
using Sharpgrad.Cli;
using Sharpgrad.NN;
using Sharpgrad.Workflows;
using Xunit;

namespace Sharpgrad.Onnx.Tests;

/// <summary>`sharpgrad export` on a run folder that `sharpgrad train` wrote.</summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sharpgrad-export-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SharpgradCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void ExportWritesAFileThatOnnxRuntimeRunsAsEval()
    {
        var run = Path.Combine(_root, "run");
        var train = Run("train", "--epochs", "1", "--limit", "256", "--test-limit", "100", "--batch-size", "64", "--threads", "2", "--out", run);
        Assert.True(train.Code == 0, train.Err);

        var (code, output, err) = Run("export", "--checkpoint", run);
        Assert.True(code == 0, err);
        var path = Path.Combine(run, "model.onnx");
        Assert.Contains($"wrote {path}", output);
        Assert.Contains("input \"input\" N x 1x28x28 float32, output \"output\" N x 10 scores", output);
        Assert.Empty(Directory.GetFiles(run, "*.tmp*"));

        var loaded = RunFiles.Load(run);
        var bytes = File.ReadAllBytes(path);
        OnnxExportTests.AssertMatchesOnnxRuntime(loaded.Model.Eval(), bytes, [1, 28, 28], new Generator(2));
        OnnxExportTests.AssertInitializersAreTheStateDict(loaded.Model, bytes);
        var meta = ModelProto.Parser.ParseFrom(bytes).MetadataProps.ToDictionary(m => m.Key, m => m.Value);
        Assert.Equal("Ankle boot", JsonNode.Parse(meta["classes"])!.AsArray()[9]!.GetValue<string>());
        Assert.Equal(loaded.Normalize.Mean[0], JsonNode.Parse(meta["normalization"])!["mean"]![0]!.GetValue<double>());

        // eval of the exported file applies the normalization stored in it, so it agrees with eval of the run
        var viaRun = Run("eval", "--checkpoint", run, "--threads", "2");
        var viaOnnx = Run("eval", "--model", path, "--threads", "2");
        Assert.True(viaOnnx.Code == 0, viaOnnx.Err);
        Assert.Contains("(stored in the file)", viaOnnx.Out);
        static string Accuracy(string text) => text.Split('\n').First(l => l.Contains("test accuracy", StringComparison.Ordinal)).Trim();
        Assert.Equal(Accuracy(viaRun.Out), Accuracy(viaOnnx.Out));
        var refused = Run("eval", "--checkpoint", run, "--normalize", "0.5/0.5");
        Assert.Equal(2, refused.Code);
        Assert.Equal("error: --normalize: applies to an ONNX model (--model) only; a run folder carries its own normalization.", refused.Err.Trim());

        var other = Path.Combine(_root, "exam.onnx");
        var again = Run("export", "--checkpoint", run, "--out", other);
        Assert.True(again.Code == 0, again.Err);
        Assert.Equal(bytes, File.ReadAllBytes(other));

        // --checkpoint takes a file in the run folder too, as eval, prune and inspect do
        var fromFile = Path.Combine(_root, "from-file.onnx");
        var viaFile = Run("export", "--checkpoint", Path.Combine(run, "model.safetensors"), "--out", fromFile);
        Assert.True(viaFile.Code == 0, viaFile.Err);
        Assert.Equal(bytes, File.ReadAllBytes(fromFile));

        var missing = Run("export", "--checkpoint", Path.Combine(_root, "nowhere"));
        Assert.Equal(2, missing.Code);
        Assert.Contains("run folder not found", missing.Err);
        Assert.Single(missing.Err.Trim().Split('\n'));

        var badOut = Run("export", "--checkpoint", run, "--out", Path.Combine(_root, "no-such-folder", "m.onnx"));
        Assert.Equal(2, badOut.Code);
        Assert.StartsWith("error: ", badOut.Err);
        Assert.Contains("does not exist", badOut.Err);
        Assert.False(Directory.Exists(Path.Combine(_root, "no-such-folder")));
    }
}
