using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests;

/// <summary>
/// The ops other networks need (grouped convolution, LeakyReLU, GELU, Cat/Stack, Argmax, Where, comparisons, adaptive
/// pooling) beyond their gradient-check and parity cases in <see cref="OpCases"/>: kernels against their references,
/// erf against 40-digit values, edge cases and errors.
/// </summary>
public sealed class ModelOpsTests
{
    // erf(x) to 20 digits (mpmath at 40 digits, at the double nearest x)
    [Theory]
        [InlineData(1e-300, 1.1283791670955126022e-300)]
        [InlineData(1e-10, 1.128379167095512615e-10)]
        [InlineData(0.1, 0.1124629160182848984)]
        [InlineData(0.25, 0.27632639016823693299)]
        [InlineData(0.46875, 0.49261347321793799159)]
        [InlineData(0.47, 0.49374505088608211241)]
        [InlineData(0.5, 0.52049987781304653768)]
        [InlineData(0.75, 0.7111556336535151316)]
        [InlineData(1, 0.84270079294971486934)]
        [InlineData(1.5, 0.96610514647531072707)]
        [InlineData(2, 0.99532226501895273416)]
        [InlineData(2.5, 0.99959304798255504106)]
        [InlineData(3, 0.99997790950300141456)]
        [InlineData(3.5, 0.99999925690162765859)]
        [InlineData(4, 0.99999998458274209972)]
        [InlineData(4.25, 0.99999999814942586261)]
        [InlineData(5, 0.99999999999846254021)]
        [InlineData(5.5, 0.99999999999999264215)]
        [InlineData(-0.3, -0.32862675945912741619)]
        [InlineData(-1.2, -0.91031397822963536837)]
        [InlineData(-3.7, -0.99999983284894209085)]
    public void ErfMatchesHighPrecisionValues(double x, double expected)
    {
        double got = SpecialFunctions.Erf(x);
        Assert.True(Math.Abs(got - expected) <= 1e-15 * Math.Abs(expected), $"erf({x:R}) = {got:R}, expected {expected:R}");
        Assert.Equal(-got, SpecialFunctions.Erf(-x));
    }

    [Fact]
    public void ErfLimits()
    {
        Assert.Equal(0.0, SpecialFunctions.Erf(0.0));
        Assert.Equal(1.0, SpecialFunctions.Erf(6.0));
        Assert.Equal(1.0, SpecialFunctions.Erf(double.PositiveInfinity));
        Assert.Equal(-1.0, SpecialFunctions.Erf(double.NegativeInfinity));
        Assert.True(double.IsNaN(SpecialFunctions.Erf(double.NaN)));
        // monotone across the interval boundaries 0.46875 and 4
        foreach (double b in new[] { 0.46875, 4.0 })
            Assert.True(SpecialFunctions.Erf(Math.BitDecrement(b)) <= SpecialFunctions.Erf(b) && SpecialFunctions.Erf(b) <= SpecialFunctions.Erf(Math.BitIncrement(b)));
    }

    [Fact]
    public void GeluAtKnownPointsAndItsGradientAtZero()
    {
        var x = Tensor.FromArray(new double[] { -3, -1, 0, 1, 3 }).RequiresGrad_();
        var y = x.Gelu();
        // x Phi(x) with Phi(1) = 0.841344746068542948585, Phi(3) = 0.998650101968369905473
        double[] expected = [-3 * (1 - 0.998650101968369905473), -(1 - 0.841344746068542948585), 0, 0.841344746068542948585, 3 * 0.998650101968369905473];
        var got = y.ToDoubleArray();
        for (int i = 0; i < 5; i++) Assert.True(Math.Abs(got[i] - expected[i]) <= 1e-15, $"gelu element {i}: {got[i]:R} vs {expected[i]:R}");
        y.Sum().Backward();
        Assert.Equal(0.5, x.Grad!.ToDoubleArray()[2]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(37)]
    [InlineData(1000)]
    public void LeakyReluKernelEqualsReference(int n)
    {
        var g = new Generator((ulong)n);
        var x = Enumerable.Range(0, n).Select(i => i % 7 == 0 ? 0f : (float)g.NextNormal()).ToArray();
        var v = Enumerable.Range(0, n).Select(_ => (float)g.NextNormal()).ToArray();
        float[] got = new float[n], expected = new float[n];
        LeakyReluKernel.Run<float>(x, v, got, 0.01f);
        LeakyReluKernel.Reference<float>(x, v, expected, 0.01f);
        Assert.Equal(expected, got);
        var xd = x.Select(f => (double)f).ToArray();
        var vd = v.Select(f => (double)f).ToArray();
        double[] gotD = new double[n], expectedD = new double[n];
        LeakyReluKernel.Run<double>(xd, vd, gotD, -0.3);
        LeakyReluKernel.Reference<double>(xd, vd, expectedD, -0.3);
        Assert.Equal(expectedD, gotD);
    }

    [Fact]
    public void GeluAndLeakyReluGiveTheSameBitsOnOneThreadAndSplitOverTwo()
    {
        float[][] Run(int threads)
        {
            using (Parallelism.UseThreads(threads))
            {
                var x = Tensor.Randn([70_000], new Generator(11)).RequiresGrad_();
                var z = Tensor.Randn([70_000], new Generator(12)).RequiresGrad_();
                var y1 = x.Gelu();
                var y2 = z.LeakyRelu(0.2);
                var u = Tensor.Randn([70_000], new Generator(13));
                y1.Backward(u);
                y2.Backward(u);
                return [y1.ToArray(), y2.ToArray(), x.Grad!.ToArray(), z.Grad!.ToArray()];
            }
        }
        var one = Run(1);
        var two = Run(2);
        for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], two[i]);
    }

    [Fact]
    public void LeakyReluGradientAtZeroIsTheSlopeAsPyTorch()
    {
        var x = Tensor.FromArray(new float[] { -2, 0, 3 }).RequiresGrad_();
        var y = x.LeakyRelu(0.1);
        Assert.Equal(new float[] { -0.2f, 0, 3 }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new float[] { 0.1f, 0.1f, 1 }, x.Grad!.ToArray());
        Assert.Throws<ArgumentException>(() => x.LeakyRelu(double.NaN));
    }

    [Fact]
    public void GroupedConvolutionErrorsNameTheOpAndBothShapes()
    {
        var e1 = Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([1, 6, 8, 8]), Tensor.Zeros([4, 2, 3, 3]), groups: 4));
        Assert.Equal("Conv2d: input channels (6) are not divisible by groups (4): input [1,6,8,8], weight [4,2,3,3].", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([1, 6, 8, 8]), Tensor.Zeros([4, 2, 3, 3]), groups: 3));
        Assert.Equal("Conv2d: output channels (4) are not divisible by groups (3): input [1,6,8,8], weight [4,2,3,3].", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([1, 6, 8, 8]), Tensor.Zeros([4, 2, 3, 3]), groups: 2));
        Assert.Equal("Conv2d: weight expects 2 input channels per group, but 6 channels in 2 groups give 3: input [1,6,8,8], weight [4,2,3,3].", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([1, 6, 8, 8]), Tensor.Zeros([4, 6, 3, 3]), groups: 0));
        Assert.Contains("Conv2d: groups must be positive, got 0: input [1,6,8,8], weight [4,6,3,3]", e4.Message);
        var e5 = Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([1, 6, 8, 8]), Tensor.Zeros([4, 6, 3, 3]), null, (0, 1), (1, 1)));
        Assert.Equal("Conv2d: stride must be positive, got (0,1): input [1,6,8,8], weight [4,6,3,3].", e5.Message);
        var e6 = Assert.Throws<ArgumentException>(() => Tensor.Conv2dRelu(Tensor.Zeros([1, 6, 8, 8]), Tensor.Zeros([4, 6, 3, 3]), null, (1, 1), (-1, 0)));
        Assert.Equal("Conv2dRelu: padding must be non-negative, got (-1,0): input [1,6,8,8], weight [4,6,3,3].", e6.Message);
    }

    [Fact]
    public void DepthwiseConvolutionOnTheExamShapesSkipsTheDirectKernelAndMatchesPerChannelConvolutions()
    {
        // 16 channels, 3x3 stride 1 pad 1: the direct kernel's shape, which must not run a grouped convolution
        var g = new Generator(5);
        var x = Tensor.Randn([2, 16, 9, 10], g);
        var w = Tensor.Randn([16, 1, 3, 3], g);
        var b = Tensor.Randn([16], g);
        var y = Tensor.Conv2d(x, w, b, 1, 1, groups: 16).ToArray();
        for (int c = 0; c < 16; c++)
        {
            var yc = Tensor.Conv2d(x.Narrow(1, c, 1), w.Narrow(0, c, 1), b.Narrow(0, c, 1), 1, 1).ToArray();
            for (int i = 0; i < 2; i++)
            for (int k = 0; k < 90; k++)
                Assert.Equal(yc[i * 90 + k], y[(i * 16 + c) * 90 + k], 5e-6f);
        }
    }

    [Fact]
    public void CatAndStackErrorsNameTheOpAndShapes()
    {
        var e1 = Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros([2, 3]), Tensor.Zeros([3, 3])], 1));
        Assert.Equal("Cat: sizes differ in dimension 0 (2 vs 3), the only one that may differ is 1: tensor 0 [2,3], tensor 1 [3,3].", e1.Message);
        Assert.Contains("same rank", Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros([2, 3]), Tensor.Zeros([2, 3, 1])])).Message);
        Assert.Contains("empty list", Assert.Throws<ArgumentException>(() => Tensor.Cat([])).Message);
        Assert.Contains("dtypes differ", Assert.Throws<ArgumentException>(() => Tensor.Cat([Tensor.Zeros([2]), Tensor.Zeros([2], DType.Float64)])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Cat([Tensor.Zeros([2])], 1));
        var e2 = Assert.Throws<ArgumentException>(() => Tensor.Stack([Tensor.Zeros([2, 3]), Tensor.Zeros([3, 2])]));
        Assert.Equal("Stack: tensors must have the same shape: tensor 0 [2,3], tensor 1 [3,2].", e2.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Stack([Tensor.Zeros([2, 3])], 3));
        Assert.Equal([2, 3, 1], Tensor.Stack([Tensor.Zeros([2, 3])], -1).Shape);
        Assert.Equal([2], Tensor.Stack([Tensor.Scalar(1), Tensor.Scalar(2)]).Shape);
    }

    [Fact]
    public void CatGivesEveryInputItsGradientSliceAndSkipsInputsWithoutGrad()
    {
        var a = Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 2, 2).RequiresGrad_();
        var b = Tensor.FromArray(new float[] { 5, 6 }, 2, 1);
        var c = Tensor.FromArray(new float[] { 7, 8, 9, 10, 11, 12 }, 2, 3).RequiresGrad_();
        var y = Tensor.Cat([a, b, c], 1);
        Assert.Equal(new float[] { 1, 2, 5, 7, 8, 9, 3, 4, 6, 10, 11, 12 }, y.ToArray());
        y.Backward(Tensor.Arange(12).Reshape(2, 6));
        Assert.Equal(new float[] { 0, 1, 6, 7 }, a.Grad!.ToArray());
        Assert.Null(b.Grad);
        Assert.Equal(new float[] { 3, 4, 5, 9, 10, 11 }, c.Grad!.ToArray());
    }

    [Fact]
    public void ArgmaxTakesTheFirstMaximumAndNaNAsPyTorch()
    {
        var x = Tensor.FromArray(new float[] { 1, 3, 3, 0, /**/ 2, float.NaN, 5, 7, /**/ -1, -1, -1, 9 }, 3, 4);
        Assert.Equal(new float[] { 1, 1, 3 }, x.Argmax(1).ToArray());
        Assert.Equal([3, 1], x.Argmax(1, keepDim: true).Shape);
        Assert.Equal(new float[] { 1, 1, 1, 2 }, x.Argmax(0).ToArray());
        Assert.Equal(new float[] { 0, 1 }, Tensor.FromArray(new float[] { 4, -1, 4, 4 }, 2, 2).Transpose().Argmax(1).ToArray()); // rows [4,4] and [-1,4] of a view
        Assert.Equal(5, x.Argmax().Item());
        Assert.Empty(x.Argmax().Shape);
        Assert.Equal(2, Tensor.FromArray(new double[] { 0, 1, 7, 7 }).Argmax(-1).Item());
        Assert.False(Tensor.Randn([3, 4]).RequiresGrad_().Argmax(1).RequiresGrad);
        Assert.Contains("has no elements", Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 0]).Argmax(1)).Message);
    }

    [Fact]
    public void ComparisonsGiveZeroOrOneInTheInputDTypeWithoutGradientAndHandleNaN()
    {
        var x = Tensor.FromArray(new double[] { 1, 2, double.NaN }).RequiresGrad_();
        var y = Tensor.FromArray(new double[] { 2, 2, double.NaN });
        Assert.Equal(new double[] { 0, 1, 0 }, x.Eq(y).ToDoubleArray());
        Assert.Equal(new double[] { 1, 0, 1 }, x.Ne(y).ToDoubleArray());
        Assert.Equal(new double[] { 1, 0, 0 }, x.Lt(y).ToDoubleArray());
        Assert.Equal(new double[] { 1, 1, 0 }, x.Le(y).ToDoubleArray());
        Assert.Equal(new double[] { 0, 0, 0 }, x.Gt(y).ToDoubleArray());
        Assert.Equal(new double[] { 0, 1, 0 }, x.Ge(y).ToDoubleArray());
        Assert.Equal(new double[] { 0, 1, 0 }, x.Ge(2).ToDoubleArray());
        Assert.Equal(DType.Float64, x.Gt(1).DType);
        Assert.False(x.Gt(y).RequiresGrad);
        Assert.Equal([2, 3], Tensor.Zeros([2, 1]).Lt(Tensor.Zeros([3])).Shape);
        Assert.Contains("Gt: shapes cannot be broadcast", Assert.Throws<ArgumentException>(() => Tensor.Zeros([2]).Gt(Tensor.Zeros([3]))).Message);
    }

    [Fact]
    public void WhereSelectsBroadcastsAndRoutesTheGradient()
    {
        var c = Tensor.FromArray(new double[] { 1, 0, 0.5, 0 }, 2, 2);
        var a = Tensor.FromArray(new double[] { 10, 20 }, 2, 1).RequiresGrad_();
        var b = Tensor.FromArray(new double[] { -1, -2 }).RequiresGrad_();
        var y = Tensor.Where(c, a, b);
        Assert.Equal(new double[] { 10, -2, 20, -2 }, y.ToDoubleArray());
        y.Backward(Tensor.FromArray(new double[] { 1, 2, 3, 4 }, 2, 2));
        Assert.Equal(new double[] { 1, 3 }, a.Grad!.ToDoubleArray());
        Assert.Equal(new double[] { 0, 6 }, b.Grad!.ToDoubleArray());
        // a float32 condition with float64 values
        Assert.Equal(new double[] { 10, -2, 20, -2 }, Tensor.Where(c.To(DType.Float32), a, b).ToDoubleArray());
        var e = Assert.Throws<ArgumentException>(() => Tensor.Where(Tensor.Zeros([3]), Tensor.Zeros([2]), Tensor.Zeros([2])));
        Assert.Equal("Where: shapes cannot be broadcast together: condition [3], a [2], b [2].", e.Message);
    }

    [Fact]
    public void AdaptiveAvgPoolWindowsFollowPyTorchAndGlobalPoolingEqualsMean()
    {
        // 5 -> 3: windows [0,2), [1,4), [3,5)
        var x = Tensor.Arange(5, DType.Float64).Reshape(1, 1, 1, 5);
        Assert.Equal(new double[] { 0.5, 2, 3.5 }, x.AdaptiveAvgPool2d(1, 3).ToDoubleArray());
        var z = Tensor.Randn([2, 3, 5, 6], new Generator(3), DType.Float64);
        var global = z.AdaptiveAvgPool2d(1).ToDoubleArray();
        var mean = z.Mean([2, 3], keepDim: true).ToDoubleArray();
        for (int i = 0; i < global.Length; i++) Assert.Equal(mean[i], global[i], 1e-14);
        Assert.Contains("AdaptiveAvgPool2d: output size must be positive", Assert.Throws<ArgumentException>(() => z.AdaptiveAvgPool2d(0, 2)).Message);
        Assert.Contains("AdaptiveAvgPool2d: expected input of shape (N,C,H,W)", Assert.Throws<ArgumentException>(() => Tensor.Zeros([3, 4]).AdaptiveAvgPool2d(1)).Message);
    }
}
