using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests;

/// <summary>
/// Accuracy at the edges: sums and means of 10^7 elements along every axis position (against float64 or compensated
/// references), log-sum-exp at large logits, and the version counter that guards saved tensors against in-place writes.
/// </summary>
public sealed class NumericsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    // ---- reductions --------------------------------------------------------------------------------------------

    [Fact]
    public void SumOfTwentyMillionOnesIsExact()
    {
        var x = Tensor.Ones([20_000_000, 1]);
        Assert.Equal(20_000_000.0, x.Sum(0).Item());
        Assert.Equal(20_000_000.0, x.Sum().Item());
        Assert.Equal(20_000_000.0, Tensor.Ones([20_000_000]).Sum().Item());
    }

    [Fact]
    public void MeanOverFourMillionRowsKeepsTheValue()
    {
        var x = Tensor.Full([4_000_000, 3], 0.479);
        // within 2 units in the last place of 0.479f (the running float32 sum this replaces gave 0.4931, +2.9%)
        float ulp = MathF.BitIncrement(0.479f) - 0.479f;
        foreach (var v in x.Mean(0).ToArray()) Assert.True(Math.Abs(v - 0.479f) <= 2 * ulp, $"{v:R}");
        foreach (var v in Tensor.Full([1_000_000, 40], 0.479).Mean(0).ToArray()) Assert.True(Math.Abs(v - 0.479f) <= 2 * ulp, $"{v:R}"); // the column path
    }

    /// <summary>Shapes of 10^7 elements whose reduced axis is long, one per axis position and path through the kernel.</summary>
    public static TheoryData<int[], int, bool> LongAxes() => new()
    {
        { [10_000_000], 0, false },          // one row
        { [2_500_000, 2, 2], 0, false },     // leading axis, few columns: transposed rows
        { [625_000, 16], 0, false },         // leading axis, 16 columns: pairwise column sums
        { [2, 2_500_000, 2], 1, false },     // middle axis
        { [2, 2, 2_500_000], 2, false },     // trailing axis
        { [2_500_000, 2, 2], 0, true },      // constant data
        { [2, 2, 2_500_000], 2, true },
        { [625_000, 16], 0, true },
    };

    [Theory]
    [MemberData(nameof(LongAxes))]
    public void Float32SumsOfTenMillionAreWithinAFewUlp(int[] shape, int axis, bool constant)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var data = new float[n];
        var rng = new Random(7);
        for (int i = 0; i < n; i++) data[i] = constant ? 0.479f : (float)(rng.NextDouble() * 2 - 0.9);
        var x = Tensor.FromArray(data, shape);
        var sum = x.Sum(axis).ToArray();
        var mean = x.Mean(axis).ToArray();
        var (exact, magnitude) = ReferenceSums(data, shape, axis);
        double worst = 0;
        for (int j = 0; j < exact.Length; j++) worst = Math.Max(worst, Math.Abs(sum[j] - exact[j]) / (MathF.BitIncrement(MathF.Abs((float)exact[j])) - MathF.Abs((float)exact[j])));
        output.WriteLine($"float32 sum of {shape[axis]:N0} along axis {axis} of [{string.Join(", ", shape)}]: max error {worst:F2} ulp of the result");
        for (int j = 0; j < exact.Length; j++)
        {
            // bound: 2^-22 (4 units of float32 rounding) of sum |x|, plus the final rounding of the result; the
            // running float32 sum this replaces was off by up to 2.9% here
            double bound = magnitude[j] * Math.Pow(2, -22) + Math.Abs(exact[j]) * Math.Pow(2, -24);
            Assert.True(Math.Abs(sum[j] - exact[j]) <= bound, $"sum {j}: {sum[j]:R}, exact {exact[j]:R} (bound {bound:E2})");
            double count = shape[axis];
            Assert.True(Math.Abs(mean[j] - exact[j] / count) <= bound / count * 2, $"mean {j}: {mean[j]:R}, exact {exact[j] / count:R}");
        }
    }

    [Theory]
    [MemberData(nameof(LongAxes))]
    public void Float64SumsOfTenMillionMatchACompensatedSum(int[] shape, int axis, bool constant)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var data = new double[n];
        var rng = new Random(11);
        for (int i = 0; i < n; i++) data[i] = constant ? 0.479 : rng.NextDouble() * 2 - 0.9;
        var sum = Tensor.FromArray(data, shape).Sum(axis).ToDoubleArray();
        var (exact, magnitude) = ReferenceSums(data, shape, axis);
        double worst = 0;
        for (int j = 0; j < exact.Length; j++) worst = Math.Max(worst, Math.Abs(sum[j] - exact[j]) / (Math.BitIncrement(Math.Abs(exact[j])) - Math.Abs(exact[j])));
        output.WriteLine($"float64 sum of {shape[axis]:N0} along axis {axis} of [{string.Join(", ", shape)}]: max error {worst:F2} ulp of the result");
        for (int j = 0; j < exact.Length; j++)
        {
            double bound = magnitude[j] * Math.Pow(2, -50) + Math.Abs(exact[j]) * Math.Pow(2, -53);
            Assert.True(Math.Abs(sum[j] - exact[j]) <= bound, $"sum {j}: {sum[j]:R}, reference {exact[j]:R} (bound {bound:E2})");
        }
    }

    [Fact]
    public void PairwiseSumAgreesWithItsReferenceAtEveryLength()
    {
        var rng = new Random(3);
        foreach (int n in new[] { 0, 1, 2, 15, 16, 17, 511, 512, 513, 1024, 1025, 4097, 100_003 })
        {
            var x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.3)).ToArray();
            double exact = x.Sum(v => (double)v), mag = x.Sum(v => Math.Abs((double)v));
            float fast = Summation.Sum<float>(x), reference = Summation.SumReference<float>(x);
            Assert.True(Math.Abs(fast - exact) <= mag * Math.Pow(2, -22) + 1e-30, $"n={n}: {fast} vs {exact}");
            Assert.True(Math.Abs(reference - exact) <= mag * Math.Pow(2, -22) + 1e-30, $"reference n={n}: {reference} vs {exact}");
        }
    }

    [Fact]
    public void ColumnSumsAgreeWithPlainLoopsForAnyRowCount()
    {
        var rng = new Random(5);
        foreach (int rows in new[] { 1, 2, 7, 8, 9, 16, 17, 100, 1001 })
        {
            const int cols = 19;
            var x = Enumerable.Range(0, rows * cols).Select(_ => rng.NextDouble() - 0.5).ToArray();
            var y = new double[cols];
            Summation.SumColumns<double>(x, rows, cols, y);
            for (int j = 0; j < cols; j++)
            {
                double s = 0;
                for (int i = 0; i < rows; i++) s += x[i * cols + j];
                Assert.Equal(s, y[j], 1e-12);
            }
        }
    }

    [Fact]
    public void ReductionsAreBitwiseReproducible()
    {
        var x = Tensor.Randn([300_001, 3], new Generator(9));
        Assert.Equal(x.Sum(0).ToArray(), x.Sum(0).ToArray());
        Assert.Equal(x.Mean().Item(), x.Mean().Item());
    }

    [Fact]
    public void BatchNormStatisticsOfALargeChannelStayAccurate()
    {
        // one channel of 4 x 1 x 1000 x 1000 values around 1000 with std 1: mean and variance within float32 rounding
        var g = new Generator(2);
        var x = Tensor.Randn([4, 1, 1000, 1000], g).Add(1000.0);
        var rm = Tensor.Zeros([1]);
        var rv = Tensor.Zeros([1]);
        Tensor.BatchNorm(x, rm, rv, null, null, training: true, momentum: 1.0);
        var d = x.ToDoubleArray();
        double mean = d.Average(), var = d.Sum(v => (v - mean) * (v - mean)) / (d.Length - 1);
        Assert.Equal(mean, rm[0], 1e-4);
        Assert.True(Math.Abs(rv[0] - var) <= 1e-5 * var + 1e-6, $"running var {rv[0]} vs {var}");
    }

    private static (double[] Exact, double[] Magnitude) ReferenceSums(float[] data, int[] shape, int axis) =>
        ReferenceSums(Array.ConvertAll(data, v => (double)v), shape, axis);

    // Neumaier-compensated sums in double: exact to about 2^-53 for the float32 inputs and to a few units of 2^-53
    // for the float64 ones
    private static (double[] Exact, double[] Magnitude) ReferenceSums(double[] data, int[] shape, int axis)
    {
        int before = 1, after = 1;
        for (int i = 0; i < axis; i++) before *= shape[i];
        for (int i = axis + 1; i < shape.Length; i++) after *= shape[i];
        int len = shape[axis];
        var exact = new double[before * after];
        var mag = new double[before * after];
        for (int b = 0; b < before; b++)
            for (int a = 0; a < after; a++)
            {
                double s = 0, c = 0, m = 0;
                for (int k = 0; k < len; k++)
                {
                    double v = data[(b * len + k) * after + a];
                    double t = s + v;
                    c += Math.Abs(s) >= Math.Abs(v) ? (s - t) + v : (v - t) + s;
                    s = t;
                    m += Math.Abs(v);
                }
                exact[b * after + a] = s + c;
                mag[b * after + a] = m;
            }
        return (exact, mag);
    }

    // ---- log-sum-exp ---------------------------------------------------------------------------------------------

    [Fact]
    public void CrossEntropyKeepsTheNormaliserAtLargeLogits()
    {
        var logits = Tensor.FromArray([1e8f, 1e8f], 1, 2).RequiresGrad_();
        var loss = Losses.CrossEntropy(logits, [1]);
        Assert.Equal(Math.Log(2), loss.Item(), 1e-6);
        loss.Backward();
        Assert.Equal([0.5f, -0.5f], logits.Grad!.ToArray());

        var x64 = Tensor.FromArray([1e15, 1e15, 1e15], 3);
        foreach (var v in x64.LogSoftmax().ToDoubleArray()) Assert.Equal(-Math.Log(3), v, 1e-15);
    }

    /// <summary>
    /// Label smoothing by hand: for logits [1, 2, 3] the losses -log p are lse - x = [2.4076..., 1.4076..., 0.4076...]
    /// (lse = 3 + log(1 + e^-1 + e^-2)), so with target 0 and eps = 0.2 the loss (1 - eps) 2.4076... + eps 1.4076...
    /// (their mean) is 2.4076... - 0.2; the gradient is softmax - 0.8 onehot - 0.2 / 3.
    /// </summary>
    [Fact]
    public void CrossEntropyWithLabelSmoothingMatchesTheHandComputedValue()
    {
        double lse = 3 + Math.Log(1 + Math.Exp(-1) + Math.Exp(-2));
        var logits = Tensor.FromArray([1.0, 2.0, 3.0], 1, 3).RequiresGrad_();
        var loss = Losses.CrossEntropy(logits, [0], labelSmoothing: 0.2);
        Assert.Equal(lse - 1 - 0.2, loss.Item(), 1e-14);
        loss.Backward();
        var grad = logits.Grad!.ToDoubleArray();
        for (int j = 0; j < 3; j++) Assert.Equal(Math.Exp(j + 1 - lse) - (j == 0 ? 0.8 : 0) - 0.2 / 3, grad[j], 1e-14);

        // eps = 0 is plain cross-entropy, bit for bit; eps = 1 is the mean of -log p over the classes
        var x = Tensor.FromArray([0.3f, -1.2f, 2.5f, 0.1f, 0.7f, -0.4f], 2, 3);
        Assert.Equal(Losses.CrossEntropy(x, [2, 0]).Item(), Losses.CrossEntropy(x, [2, 0], labelSmoothing: 0).Item());
        var uniform = Losses.CrossEntropy(logits.Detach(), [0], labelSmoothing: 1).Item();
        Assert.Equal(lse - 2, uniform, 1e-14);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void CrossEntropyRefusesLabelSmoothingOutsideZeroToOne(double eps)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(Tensor.Zeros([1, 3]), [0], labelSmoothing: eps));
        Assert.Contains("labelSmoothing must be in [0, 1]", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<double, int> Magnitudes()
    {
        var d = new TheoryData<double, int>();
        foreach (double m in new[] { 1e4, 1e6, 1e8, 1e10, 1e15, 1e20, 1e30 })
        {
            d.Add(m, 32);
            d.Add(m, 64);
        }
        return d;
    }

    /// <summary>
    /// Rows around a large common logit m (mixed signs, ties and offsets of 1): the log-probabilities, the
    /// cross-entropy and its gradient against a float64 computation done on the offsets from m, which is exact.
    /// </summary>
    [Theory]
    [MemberData(nameof(Magnitudes))]
    public void LogSoftmaxIsStableAtAnyMagnitude(double m, int bits)
    {
        var dt = bits == 32 ? DType.Float32 : DType.Float64;
        // offsets from the largest logit; m + offset rounds to a representable logit, the reference uses that value
        double[][] rows = [[m, m, m], [m, m - 1, m - 2], [m, -m, 0], [-m, -m, -m], [m, m, -m]];
        foreach (var row in rows)
        {
            var x = Tensor.FromArray(row, row.Length).To(dt);
            var actual = x.LogSoftmax().ToDoubleArray();
            var xs = x.ToDoubleArray();
            double max = xs.Max();
            double lse = Math.Log(xs.Sum(v => Math.Exp(v - max)));
            for (int i = 0; i < row.Length; i++)
            {
                double expected = xs[i] - max - lse;
                double tol = bits == 32 ? 1e-6 + 1e-6 * Math.Abs(expected) : 1e-15 + 1e-15 * Math.Abs(expected);
                Assert.True(Math.Abs(actual[i] - expected) <= tol, $"{m:E0} {dt}: row [{string.Join(", ", row)}] element {i}: {actual[i]:R} vs {expected:R}");
            }
            var logits = x.Reshape(1, row.Length).Detach().RequiresGrad_();
            var loss = Losses.CrossEntropy(logits, [1]);
            Assert.Equal(-(xs[1] - max - lse), loss.Item(), bits == 32 ? 1e-5 : 1e-12);
            Assert.False(row[0] == row[1] && loss.Item() == 0, "a loss of 0 at tied logits");
            loss.Backward();
            var grad = logits.Grad!.ToDoubleArray();
            for (int i = 0; i < row.Length; i++)
            {
                double expected = Math.Exp(xs[i] - max - lse) - (i == 1 ? 1 : 0);
                Assert.Equal(expected, grad[i], bits == 32 ? 1e-6 : 1e-14);
            }
        }
    }

    [Theory]
    [InlineData(1e4)]
    [InlineData(1e8)]
    [InlineData(1e30)]
    public void BinaryCrossEntropyWithLogitsIsStableAtAnyMagnitude(double m)
    {
        foreach (var dt in new[] { DType.Float32, DType.Float64 })
        {
            var x = Tensor.FromArray([m, -m, m, -m], 4).To(dt);
            var t = Tensor.FromArray([1.0, 0, 0, 1], 4).To(dt);
            var l = Losses.BinaryCrossEntropyWithLogits(x, t, Reduction.None).ToDoubleArray();
            double xm = x.ToDoubleArray()[0];
            Assert.Equal([0, 0, xm, xm], l);
        }
    }

    [Theory]
    [InlineData(1.0, 10)]
    [InlineData(10.0, 10)]
    [InlineData(100.0, 10)]
    [InlineData(100.0, 1000)]
    public void Float32SoftmaxIsWithinOneUlpOfTheExactValue(double spread, int n)
    {
        var rng = new Random(17);
        var logits = Enumerable.Range(0, 50 * n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * spread)).ToArray();
        var x = Tensor.FromArray(logits, 50, n);
        var p = x.Softmax(1).ToArray();
        var lp = x.LogSoftmax(1).ToArray();
        double worst = 0, worstLog = 0;
        for (int r = 0; r < 50; r++)
        {
            var row = logits.AsSpan(r * n, n).ToArray();
            double max = row.Max(), lse = Math.Log(row.Sum(v => Math.Exp(v - (double)max)));
            for (int i = 0; i < n; i++)
            {
                double exact = Math.Exp(row[i] - max - lse), exactLog = row[i] - max - lse;
                worst = Math.Max(worst, Math.Abs(p[r * n + i] - exact) / Ulp((float)exact));
                worstLog = Math.Max(worstLog, Math.Abs(lp[r * n + i] - exactLog) / Ulp((float)exactLog));
            }
        }
        output.WriteLine($"float32 softmax of {n} logits in +-{spread}: max error {worst:F2} ulp; log-softmax {worstLog:F2} ulp");
        Assert.True(worst <= 1 && worstLog <= 1, $"softmax {worst:F2} ulp, log-softmax {worstLog:F2} ulp");
    }

    private static double Ulp(float v) => v == 0 ? float.Epsilon : MathF.BitIncrement(MathF.Abs(v)) - MathF.Abs(v);

    // ---- version counter --------------------------------------------------------------------------------------

    [Fact]
    public void WritingIntoASavedTensorMakesBackwardThrow()
    {
        var x = Tensor.FromArray([1f, 2, 3]).RequiresGrad_();
        var s = x.Sigmoid();
        Assert.Throws<InvalidOperationException>(() => s[1] = 2); // refused at once while gradients are recorded
        using (Tensor.NoGrad()) s[1] = 2; // SigmoidBackward saved s
        var ex = Assert.Throws<InvalidOperationException>(() => s.Sum().Backward());
        Assert.Contains("SigmoidBackward", ex.Message);
        Assert.Contains("modified in place", ex.Message);
        Assert.Contains("[3]", ex.Message);
        Assert.Null(x.Grad);
    }

    [Fact]
    public void WritesThroughAnyViewCountEvenUnderNoGrad()
    {
        var w = Tensor.FromArray([1f, 2, 3, 4], 2, 2).RequiresGrad_();
        var x = Tensor.FromArray([0.5f, -1, 2, 1], 2, 2);
        var y = x.MatMul(w); // MatMulBackward saved x and w
        int before = w.Version;
        using (Tensor.NoGrad()) w.Transpose().Slice(0, 0, 1)[0, 1] = 7;
        Assert.Equal(before + 1, w.Version);
        var ex = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.Contains("MatMulBackward", ex.Message);

        // CopyFrom and AsSpan are writes; AsReadOnlySpan, ToArray and the getter are not
        var v = Tensor.Zeros([3]);
        v.CopyFrom(Tensor.Ones([3]));
        _ = v.AsSpan<float>();
        _ = v.AsReadOnlySpan<float>();
        _ = v.ToArray();
        _ = v[0];
        Assert.Equal(2, v.Version);
        Assert.Equal(v.Version, v.Reshape(3, 1).Version);
        Assert.Equal(v.Version, v.Detach().Version);
    }

    [Fact]
    public void WritesToTensorsNoBackwardReadsAreAllowed()
    {
        // Add saves nothing, so changing its inputs afterwards is fine (as in PyTorch)
        var a = Tensor.FromArray([1f, 2]).RequiresGrad_();
        var b = Tensor.FromArray([3f, 4]);
        var y = a.Add(b);
        b[0] = 10; // b requires no grad and no op computed it: a plain write
        y.Sum().Backward();
        Assert.Equal([1f, 1], a.Grad!.ToArray());
        // writing into a result after its backward ran does not matter either
        var s = a.Sigmoid();
        s.Sum().Backward(retainGraph: false);
        using (Tensor.NoGrad()) s[0] = 0;
    }

    [Fact]
    public void WritesIntoTrackedTensorsAreRefusedWhileGradientsAreRecorded()
    {
        var x = Tensor.FromArray([1f, 2]).RequiresGrad_();
        var z = Tensor.FromArray([5f, 5]).RequiresGrad_();
        var y = x.Mul(2.0);
        var ex = Assert.Throws<InvalidOperationException>(() => y.CopyFrom(z));
        Assert.Contains("computed by MulBackward", ex.Message);
        Assert.Throws<InvalidOperationException>(() => y[0] = 5);
        Assert.Throws<InvalidOperationException>(() => x.Reshape(2, 1)[0, 0] = 3); // a view of a leaf that requires grad
        ex = Assert.Throws<InvalidOperationException>(() => x[0] = 3);
        Assert.Contains("leaf that requires grad", ex.Message);
        using (Tensor.NoGrad())
        {
            x[0] = 3; // as an optimizer step
            x.CopyFrom(Tensor.FromArray([4f, 4]));
        }
        x.Detach()[1] = 7; // a detached leaf shares storage but records nothing
        Assert.Equal([4f, 7], x.ToArray());
    }

    [Fact]
    public void CopyFromOverlappingViewsCopiesAsMemmoveAndRefusesExpandedDestinations()
    {
        var b = Tensor.Arange(12).Reshape(6, 2).Transpose();
        b.Slice(1, 1, 6).CopyFrom(b.Slice(1, 0, 5));
        Assert.Equal([0f, 0, 2, 4, 6, 8, 1, 1, 3, 5, 7, 9], b.Contiguous().ToArray());
        var a = Tensor.Zeros([1, 3]);
        var ex = Assert.Throws<ArgumentException>(() => a.Expand(2, 3).CopyFrom(Tensor.Ones([2, 3])));
        Assert.Contains("share memory", ex.Message);
    }

    [Fact]
    public void ReductionsOfZeroDimensionalAndZeroSizeTensorsFollowPyTorch()
    {
        Assert.Equal(3.0, Tensor.Scalar(3).Sum(0).Item());
        Assert.Equal(3.0, Tensor.Scalar(3).Mean(-1).Item());
        Assert.Equal(3.0, Tensor.Scalar(3).Max(0, keepDim: true).Item());
        Assert.Throws<ArgumentException>(() => Tensor.Scalar(3).Sum(1));
        Assert.Equal([0], Tensor.Zeros([0, 3]).Max(1).Shape);
        Assert.Equal([1, 0], Tensor.Zeros([3, 0]).Max(0, keepDim: true).Shape);
        Assert.Contains("empty dimension", Assert.Throws<ArgumentException>(() => Tensor.Zeros([3, 0]).Max(1)).Message);
    }

    [Fact]
    public void ARetainedMaxPoolGraphRefusesToRunAfterItsScopeEnded()
    {
        var x = Tensor.Randn([1, 1, 128, 128], new Generator(3)).RequiresGrad_();
        Tensor z;
        using (TensorScope.Begin())
        {
            z = x.MaxPool2d(2).Sum();
            z.Backward(retainGraph: true);
        }
        using (TensorScope.Begin()) Tensor.Randn([1, 1, 128, 128], new Generator(99)).RequiresGrad_().MaxPool2d(2);
        Assert.Throws<ObjectDisposedException>(() => z.Backward());
    }

    [Fact]
    public void ExpOfZeroIsOneAndALoneClassHasNoLogSoftmaxGradient()
    {
        for (int n = 1; n <= 40; n++) Assert.All(Tensor.Zeros([n]).Exp().ToArray(), v => Assert.Equal(1f, v));
        var x = Tensor.FromArray([5f], 1, 1).RequiresGrad_();
        x.LogSoftmax().Backward(Tensor.Ones([1, 1]));
        Assert.Equal(0f, x.Grad![0, 0]);
        var tied = Tensor.FromArray([3e38f, 3e38f], 1, 2).RequiresGrad_();
        tied.LogSoftmax().Backward(Tensor.Ones([1, 2]));
        Assert.Equal([0f, 0], tied.Grad!.ToArray());
    }

    [Fact]
    public void StepSavesNothingSoWritingItsInputIsAllowed()
    {
        var x = Tensor.FromArray([1f, -1]).RequiresGrad_();
        var h = x.Mul(1.0);
        var y = h.Step();
        using (Tensor.NoGrad()) h[0] = -5;
        y.Sum().Backward();
        Assert.Equal([0f, 0], x.Grad!.ToArray());
    }
}
