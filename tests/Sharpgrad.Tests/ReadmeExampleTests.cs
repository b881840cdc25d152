using Xunit;

namespace Sharpgrad.Tests;

/// <summary>The README's worked example is this code, character for character, and it learns.</summary>
public sealed class ReadmeExampleTests
{
    private static (double Loss, double Accuracy) Run()
    {
        // README-EXAMPLE-BEGIN
        var gen = new Generator(42);
        // 200 points in 2-D; the label is 1 where x0 + 2 x1 > 0.5
        var x = Tensor.Randn([200, 2], gen);
        var labels = new float[200];
        for (int i = 0; i < 200; i++) labels[i] = x[i, 0] + 2 * x[i, 1] > 0.5 ? 1 : 0;
        var y = Tensor.FromArray(labels, 200, 1);

        // logistic regression: y_hat = sigmoid(x W + b), trained on binary cross-entropy
        var w = Tensor.Zeros([2, 1]).RequiresGrad_();
        var b = Tensor.Zeros([1]).RequiresGrad_();
        double loss = 0;
        for (int step = 0; step < 200; step++)
        {
            var yHat = x.MatMul(w).Add(b).Sigmoid();
            var bce = Losses.BinaryCrossEntropy(yHat, y);
            w.ZeroGrad();
            b.ZeroGrad();
            bce.Backward();                      // fills w.Grad and b.Grad
            using (Tensor.NoGrad())
            {
                w.CopyFrom(w - w.Grad! * 1.0);   // plain gradient descent, learning rate 1
                b.CopyFrom(b - b.Grad! * 1.0);
            }
            loss = bce.Item();
        }
        var predicted = x.MatMul(w).Add(b).Sigmoid().ToArray();
        double accuracy = predicted.Where((p, i) => (p >= 0.5) == (labels[i] == 1)).Count() / 200.0;
        Console.WriteLine($"loss {loss:F4}, accuracy {accuracy:P1}");
        // README-EXAMPLE-END
        return (loss, accuracy);
    }

    [Fact]
    public void ExampleLearnsTheBoundary()
    {
        var (loss, accuracy) = Run();
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy}");
        Assert.True(loss < 0.2, $"loss {loss}");
    }

    [Fact]
    public void ReadmeShowsExactlyThisCode()
    {
        string Find(string start, string file)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, file))) return Path.Combine(dir.FullName, file);
            throw new FileNotFoundException(file);
        }
        var root = Path.GetDirectoryName(Find(AppContext.BaseDirectory, "Sharpgrad.slnx"))!;
        var src = File.ReadAllLines(Path.Combine(root, "tests", "Sharpgrad.Tests", "ReadmeExampleTests.cs"));
        int begin = Array.FindIndex(src, l => l.Trim() == "// README-EXAMPLE-BEGIN");
        int end = Array.FindIndex(src, l => l.Trim() == "// README-EXAMPLE-END");
        var body = src[(begin + 1)..end].Select(l => l.Length >= 8 ? l[8..] : l.Trim());
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n");
        var block = "using Sharpgrad;\n\n" + string.Join("\n", body) + "\n";
        Assert.Contains(block, readme);
    }
}
