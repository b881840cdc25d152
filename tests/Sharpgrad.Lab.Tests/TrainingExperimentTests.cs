using System.Text.Json;
using Xunit;

namespace Sharpgrad.Lab.Tests;

/// <summary>The measurements behind Q1-Q4 and Q9's checks, read from the shared `lab all --quick` run.</summary>
[Collection("lab")]
public sealed class TrainingExperimentTests(QuickLabRun run)
{
    private double Number(string id, string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(run.OutDir, id + ".json"))).RootElement.GetProperty("numbers").GetProperty(name).GetDouble();

    private IReadOnlyList<string> Plots(string id) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(run.OutDir, id + ".json"))).RootElement.GetProperty("plots").EnumerateArray()
            .Select(p => p.GetProperty("file").GetString()!).ToList();

    [Fact]
    public void Q1EverySigmoidShrinksTheGradientByAtLeastFourAndTheFirstLayersStarve()
    {
        double factor = Number("q1", "sigmoid: largest factor |dL/dz| / |dL/da| over every element");
        Assert.InRange(factor, 0.2, 0.25 * (1 + 1e-6)); // sigma' reaches 1/4 only at z = 0
        Assert.InRange(Number("q1", "sigmoid: largest sigma'(z) = s(1 - s) seen in the forward passes"), 0.2, 0.25);
        double sigmoid = Number("q1", "sigmoid: mean |dL/dW| of layer 1 / of layer 10");
        Assert.True(sigmoid < 1e-3, $"sigmoid first/last {sigmoid}");
        Assert.True(sigmoid < Number("q1", "tanh: mean |dL/dW| of layer 1 / of layer 10") / 100);
        Assert.True(sigmoid < Number("q1", "relu: mean |dL/dW| of layer 1 / of layer 10") / 100);
        Assert.Equal(["q1-weight-grad.png", "q1-preactivation-grad.png", "q1-sigmoid-factor.png", "q1-first-layer-steps.png"], Plots("q1"));
    }

    [Fact]
    public void Q2AugmentationAndDropoutShrinkTheGap()
    {
        string Gap(string run) => $"{run}: final gap (train - validation accuracy, mean of the last 3 epochs)";
        double plain = Number("q2", Gap("plain"));
        Assert.True(plain > 0.05, $"the plain run should overfit, gap {plain}");
        Assert.True(Number("q2", Gap("augmentation")) < plain);
        Assert.True(Number("q2", Gap("dropout")) < plain);
    }

    [Fact]
    public void Q3BatchNormReachesTheTargetLossInFewerSteps()
    {
        var numbers = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.OutDir, "q3.json"))).RootElement.GetProperty("numbers");
        double target = numbers.GetProperty("target loss").GetDouble();
        string key = $"with BN, lr 0.1: steps to loss <= {target.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)}";
        double withBn = numbers.GetProperty(key).GetDouble();
        double steps = numbers.GetProperty("steps").GetDouble();
        double without = numbers.TryGetProperty(key.Replace("with BN", "without BN", StringComparison.Ordinal), out var w) ? w.GetDouble() : steps + 1;
        Assert.True(withBn < without, $"with BN {withBn}, without {without}");
    }

    [Fact]
    public void Q4L1GivesExactZerosAndPruningShrinksTheCompressedFile()
    {
        Assert.True(Number("q4", "L1: share of weights exactly zero") > 0.05);
        Assert.Equal(0, Number("q4", "L2: share of weights exactly zero"));
        Assert.True(Number("q4", "L2: mean |w|") < Number("q4", "none: mean |w|"));
        Assert.Equal(0.9, Number("q4", "global 90%: sparsity after fine-tuning"), 3);
        // the dense layout stores the zeros; compressed, the pruned file is far smaller
        Assert.Equal(Number("q4", "size: dense file (bytes)"), Number("q4", "size: pruned file (bytes)"));
        Assert.True(Number("q4", "size: pruned, gzip (bytes)") < 0.5 * Number("q4", "size: dense, gzip (bytes)"));
    }

    [Fact]
    public void Q9TheCnnHasFewerParametersIsEquivariantAndLosesLessUnderShifts()
    {
        Assert.Equal(10362, Number("q9", "exam CNN: parameters"));
        Assert.Equal(10345, Number("q9", "MLP 784-13-10 (about as many parameters): parameters"));
        Assert.Equal(203530, Number("q9", "MLP 784-256-10 (the library's mlp): parameters"));
        Assert.InRange(Number("q9", "exam CNN: first conv, max |conv(shift x) - shift(conv x)| / max |conv x| away from the border (2 px shift)"), 0, 1e-5);
        Assert.True(Number("q9", "exam CNN: test accuracy, shifted 0 px") > Number("q9", "MLP 784-13-10 (about as many parameters): test accuracy, shifted 0 px"));
        Assert.True(Number("q9", "exam CNN: accuracy lost to 1-4 px shifts (mean)") < Number("q9", "MLP 784-256-10 (the library's mlp): accuracy lost to 1-4 px shifts (mean)"));
    }
}
