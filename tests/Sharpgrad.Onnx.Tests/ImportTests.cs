using Sharpgrad.NN;
using Xunit;
using Xunit.Abstractions;

namespace Sharpgrad.Onnx.Tests;

/// <summary>
/// Models that PyTorch 1.13's torch.onnx.export wrote (tools/make_onnx_fixtures.py: the exam CNN, resnet8, mobilenet
/// and the exam CNN flattening with x.view(x.size(0), -1); opset 17, eval mode) import, reproduce PyTorch's outputs
/// and fine-tune.
/// </summary>
public sealed class ImportTests(ITestOutputHelper output)
{
    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    [Theory]
    [InlineData("exam-cnn")]
    [InlineData("resnet8")]
    [InlineData("mobilenet")]
    [InlineData("exam-cnn-view")]
    public void ImportReproducesPyTorchOutputs(string name)
    {
        var model = OnnxModel.Load(Fixture(name + ".onnx"));
        var (io, _) = SafeTensors.Read(Fixture(name + ".io.safetensors"));
        Tensor y;
        using (Tensor.NoGrad()) y = model.Forward(io["input"]);
        Assert.Equal(io["output"].Shape, y.Shape);
        var a = y.ToArray();
        var e = io["output"].ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(a[i] - e[i]) <= 1e-5 + 1e-4 * Math.Abs(e[i]), $"{name} output {i}: {a[i]:R}, PyTorch {e[i]:R}");
        output.WriteLine($"{name}: largest difference from PyTorch {Enumerable.Range(0, e.Length).Max(i => Math.Abs(a[i] - e[i])):E2}");
        Assert.Equal(17, model.Opset);
        Assert.StartsWith("pytorch", model.Producer, StringComparison.Ordinal);
        Assert.Equal("input", Assert.Single(model.Inputs).Name);
        Assert.Equal([null, 1, 28, 28], model.Inputs[0].Shape);
    }

    [Fact]
    public void InitializersAreParametersUnderPyTorchsNames()
    {
        var model = OnnxModel.Load(Fixture("exam-cnn.onnx"));
        var names = model.NamedParameters().Select(p => p.Name).ToList();
        Assert.Equal(["0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias", "8.weight", "8.bias"], names);
        Assert.Equal(["3.running_mean", "3.running_var"], model.NamedBuffers().Select(b => b.Name).Order(StringComparer.Ordinal));
        Assert.Equal(10_362, model.ParameterCount()); // the exam CNN at 1x28x28, as the README counts it
        Assert.All(model.NamedParameters(), p => Assert.Equal(p.Name, model.InitializerNames[p.Name]));
        Assert.All(model.Parameters(), p => Assert.True(p.Data.RequiresGrad));
    }

    [Fact]
    public void GradientsReachEveryParameter()
    {
        var model = OnnxModel.Load(Fixture("resnet8.onnx"));
        var (io, _) = SafeTensors.Read(Fixture("resnet8.io.safetensors"));
        var loss = Losses.CrossEntropy(model.Forward(io["input"]), [0, 1, 2, 3]);
        loss.Backward();
        foreach (var (n, p) in model.NamedParameters())
            Assert.True(p.Grad is not null && p.Grad.ToArray().Any(g => g != 0), $"no gradient for {n}");
    }

    [Fact]
    public void FineTuningTheImportedExamCnnForOneEpochLowersItsLoss()
    {
        string path = Fixture("exam-cnn.onnx");
        // README-ONNX-BEGIN
        var model = OnnxModel.Load(path);                       // e.g. the exam CNN as torch.onnx.export wrote it
        Console.WriteLine(string.Join(", ", model.Inputs));     // input: float32[?,1,28,28]
        var data = DataSources.Load("fashion-mnist", null);
        var train = data.Train.Take(3000);
        var normalize = Normalize.FromData(data.Train);
        var trainer = new ModuleTrainer(model, train, options: new ModuleTrainerOptions
        {
            Epochs = 1, BatchSize = 64, LearningRate = 2e-3, TrainTransforms = [normalize], EvaluationTransforms = [normalize],
        });
        double before = trainer.Evaluate(train).Loss;
        trainer.Fit();                                          // every float initializer is a Parameter
        double after = trainer.Evaluate(train).Loss;
        // README-ONNX-END
        output.WriteLine($"exam CNN from PyTorch, 3,000 Fashion-MNIST training images: loss {before:F4} before one epoch of fine-tuning, {after:F4} after");
        Assert.True(after < 0.8 * before, $"loss {before:F4} before one epoch, {after:F4} after");
    }

    [Fact]
    public void TheReadmeShowsTheFineTuningExample()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Sharpgrad.slnx"))) dir = Path.GetDirectoryName(dir);
        Assert.NotNull(dir);
        var src = File.ReadAllLines(Path.Combine(dir, "tests", "Sharpgrad.Onnx.Tests", "ImportTests.cs"));
        int b = Array.FindIndex(src, l => l.Trim() == "// README-ONNX-BEGIN"), e = Array.FindIndex(src, l => l.Trim() == "// README-ONNX-END");
        Assert.True(b >= 0 && e > b);
        var block = "using Sharpgrad.NN;\nusing Sharpgrad.Onnx;\n\n" + string.Join("\n", src[(b + 1)..e].Select(l => l.Length >= 8 ? l[8..] : l.Trim())) + "\n";
        Assert.Contains(block, File.ReadAllText(Path.Combine(dir, "README.md")).Replace("\r\n", "\n"));
    }
}
