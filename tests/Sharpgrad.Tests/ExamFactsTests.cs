using Xunit;

namespace Sharpgrad.Tests;

/// <summary>The exam's answers (../shared/EXAM.md) as executable facts.</summary>
public sealed class ExamFactsTests
{
    [Fact]
    public void Q1_SigmoidDerivativeIsAtMostAQuarterAndNeverGrowsTheGradient()
    {
        var z = Tensor.Arange(-20, 20, 0.01, DType.Float64).RequiresGrad_();
        var s = z.Sigmoid();
        s.Sum().Backward();
        var d = z.Grad!.ToDoubleArray();
        Assert.All(d, v => Assert.InRange(v, 0, 0.25));
        Assert.Equal(0.25, d.Max(), 6); // the maximum, at z = 0

        // an upstream gradient passing through a sigmoid never grows in magnitude
        var g = new Generator(1);
        var x = Tensor.Randn([1000], g, DType.Float64).Mul(5).RequiresGrad_();
        var upstream = Tensor.Randn([1000], g, DType.Float64).Mul(100);
        x.Sigmoid().Backward(upstream);
        var gx = x.Grad!.ToDoubleArray();
        var gu = upstream.ToDoubleArray();
        for (int i = 0; i < gx.Length; i++) Assert.True(Math.Abs(gx[i]) <= 0.25 * Math.Abs(gu[i]) + 1e-12);
    }

    [Fact]
    public void Q5_TanhIsTwoSigmoidOfTwoXMinusOne()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var x = Tensor.Arange(-10, 10, 0.001, dtype);
            var lhs = x.Tanh().ToDoubleArray();
            var rhs = x.Mul(2).Sigmoid().Mul(2).Sub(1).ToDoubleArray();
            double eps = dtype == DType.Float32 ? 1e-6 : 1e-14;
            for (int i = 0; i < lhs.Length; i++) Assert.True(Math.Abs(lhs[i] - rhs[i]) <= eps, $"{dtype} at {x[i]}: {lhs[i]} vs {rhs[i]}");
        }
    }

    [Fact]
    public void Q6_LogisticRegressionGradientIsYHatMinusYTimesXTransposed()
    {
        // Z = W X + b with X: (features, m), W: (1, features); L = sum of BCE over the m examples
        var g = new Generator(6);
        const int features = 4, m = 32;
        var x = Tensor.Randn([features, m], g, DType.Float64);
        var y = Tensor.FromArray(Enumerable.Range(0, m).Select(i => (double)(i % 3 == 0 ? 1 : 0)).ToArray(), 1, m);
        var w = Tensor.Randn([1, features], g, DType.Float64).RequiresGrad_();
        var b = Tensor.Randn([1, 1], g, DType.Float64).RequiresGrad_();
        var yHat = w.MatMul(x).Add(b).Sigmoid();
        Losses.BinaryCrossEntropy(yHat, y, Reduction.Sum).Backward();

        using var _ = Tensor.NoGrad();
        var dz = yHat.Sub(y);                      // dL/dZ = Y_hat - Y
        var dw = dz.MatMul(x.Transpose());         // (Y_hat - Y) X^T, one matrix product
        var db = dz.Sum();                         // sum(Y_hat - Y)
        AssertAllClose(dw.ToDoubleArray(), w.Grad!.ToDoubleArray(), 1e-9);
        AssertAllClose(db.ToDoubleArray(), b.Grad!.ToDoubleArray(), 1e-9);
    }

    [Fact]
    public void Q7_SigmoidOfReluIsAlwaysAtLeastOneHalf()
    {
        var z = Tensor.Randn([10000], new Generator(7)).Mul(10);
        var p = z.Relu().Sigmoid().ToArray();
        Assert.All(p, v => Assert.True(v >= 0.5f));
        // so a classifier thresholding at 0.5 predicts the positive class for every example
        Assert.Equal(p.Length, p.Count(v => v >= 0.5f));
    }

    [Fact]
    public void Q8_StepPassesNoGradientAndTheWeightsBeforeItNeverLearn()
    {
        var x = Tensor.Randn([50], new Generator(8), DType.Float64).RequiresGrad_();
        x.Step().Backward(Tensor.Randn([50], new Generator(9), DType.Float64));
        Assert.All(x.Grad!.ToDoubleArray(), v => Assert.Equal(0.0, v));

        // a model whose only path runs through Step: y_hat = step(X w + b), MSE against labels
        var g = new Generator(10);
        var inputs = Tensor.Randn([64, 3], g);
        var labels = Tensor.Rand([64, 1], g).Clamp(0.2, 0.8);
        var w = Tensor.Randn([3, 1], g).RequiresGrad_();
        var b = Tensor.Zeros([1]).RequiresGrad_();
        var w0 = w.ToArray();
        var b0 = b.ToArray();
        for (int step = 0; step < 20; step++)
        {
            w.ZeroGrad();
            b.ZeroGrad();
            var loss = Losses.Mse(inputs.MatMul(w).Add(b).Step(), labels);
            loss.Backward();
            Assert.All(w.Grad!.ToArray(), v => Assert.Equal(0f, v));
            using var _ = Tensor.NoGrad();
            w.CopyFrom(w - w.Grad! * 0.5);
            b.CopyFrom(b - b.Grad! * 0.5);
        }
        Assert.Equal(w0, w.ToArray());
        Assert.Equal(b0, b.ToArray());
    }

    private static void AssertAllClose(double[] expected, double[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: {expected[i]} vs {actual[i]}");
    }
}
