using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>Specialised kernels against the general or plain kernels they stand in for.</summary>
public sealed class FastPathTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(1000)]
    public void ReluGradEqualsReference(int n)
    {
        var g = new Generator((ulong)n);
        var y = Enumerable.Range(0, n).Select(i => i % 5 == 0 ? 0f : (float)g.NextNormal()).ToArray();
        var d = Enumerable.Range(0, n).Select(_ => (float)g.NextNormal()).ToArray();
        float[] a = new float[n], b = new float[n];
        ReluGradKernel.Run<float>(y, d, a);
        ReluGradKernel.Reference<float>(y, d, b);
        Assert.Equal(b, a);
    }

    [Fact]
    public void MaxPool2x2EqualsGeneralKernelWithTiesAndNaN()
    {
        var gen = new Generator(9);
        var geo = new Conv2dGeometry(3, 6, 8, 2, 2, 2, 2, 0, 0);
        int planes = 6, n = planes * geo.H * geo.W;
        var x = Enumerable.Range(0, n).Select(_ => (float)gen.NextInt(4)).ToArray(); // many ties
        x[5] = float.NaN;
        x[60] = float.NaN;
        x[61] = float.NaN;
        MaxPoolVectorTests.AssertMaxPool2x2MatchesReference(x, planes, geo);
    }
}

public sealed class BatchNormKernelTests
{
    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(1000.0, 0.01)] // |mean| far above the spread: a naive one-pass variance loses it
    public void StatisticsMatchTwoPassDoubleEvenFarFromZero(double offset, double spread)
    {
        const int n = 3, c = 2, s = 37;
        var g = new Generator(31);
        var x = Enumerable.Range(0, n * c * s).Select(_ => (float)(offset + spread * g.NextNormal())).ToArray();
        x[0] = (float)(offset + 40 * spread); // an outlier in the first row
        var mean = new double[c];
        var variance = new double[c];
        BatchNormKernels.Statistics<float>(x, n, c, s, mean, variance, 0, c);
        for (int ch = 0; ch < c; ch++)
        {
            var v = Enumerable.Range(0, n).SelectMany(i => x.Skip((i * c + ch) * s).Take(s)).Select(f => (double)f).ToArray();
            double m = v.Average(), var = v.Sum(d => (d - m) * (d - m)) / v.Length;
            Assert.True(Math.Abs(mean[ch] - m) <= 1e-6 * (1 + Math.Abs(m)), $"mean {mean[ch]} vs {m}");
            Assert.True(Math.Abs(variance[ch] - var) <= 1e-3 * var, $"variance {variance[ch]} vs {var}");
        }
    }


    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]   // fused with the ReLU after it: dy gated where the recomputed y <= 0
    [InlineData(false, true)]
    public void VectorizedBackwardEqualsReference(bool training, bool relu)
    {
        const int n = 5, c = 3, s = 37;
        var g = new Generator(21);
        double[] R(int len) => Enumerable.Range(0, len).Select(_ => g.NextNormal()).ToArray();
        double[] x = R(n * c * s), dy = R(n * c * s), gamma = R(c), mean = R(c), invstd = R(c).Select(v => 0.5 + Math.Abs(v)).ToArray(), beta = R(c);
        double[] dx = new double[x.Length], dgam = new double[c], dbet = new double[c];
        double[] rdx = new double[x.Length], rdgam = new double[c], rdbet = new double[c];
        BatchNormKernels.Backward<double>(dy, x, n, c, s, mean, invstd, gamma, training, dx, dgam, dbet, 0, c, relu, relu ? beta : default);
        BatchNormReference.Backward(dy, x, n, c, s, mean, invstd, gamma, training, rdx, rdgam, rdbet, relu ? beta : null);
        if (relu) Assert.InRange(Enumerable.Range(0, x.Length).Count(i => (x[i] - mean[i / s % c]) * invstd[i / s % c] * gamma[i / s % c] + beta[i / s % c] <= 0), x.Length / 5, 4 * x.Length / 5);
        for (int i = 0; i < dx.Length; i++) Assert.True(Math.Abs(dx[i] - rdx[i]) <= 1e-10 * (1 + Math.Abs(rdx[i])), $"dx[{i}]: {dx[i]} vs {rdx[i]}");
        for (int i = 0; i < c; i++)
        {
            Assert.Equal(rdgam[i], dgam[i], 9);
            Assert.Equal(rdbet[i], dbet[i], 9);
        }
    }
}

public sealed class FusedConvReluTests
{
    [Theory]
    [InlineData(3, 16, 32, 32, 1, DType.Float32)]  // the exam CNN's first convolution on CIFAR-sized images
    [InlineData(1, 16, 28, 28, 1, DType.Float32)]  // ... on Fashion-MNIST: two row chunks, the second partial
    [InlineData(1, 32, 7, 9, 1, DType.Float32)]    // one input channel: odd sizes, four blocks of 8 filters
    [InlineData(1, 16, 2, 3, 1, DType.Float32)]    // one input channel, a single pooled pixel
    [InlineData(16, 16, 14, 14, 1, DType.Float32)] // its second convolution
    [InlineData(8, 8, 13, 11, 1, DType.Float32)]   // odd sizes: the last row and column are dropped
    [InlineData(8, 16, 15, 17, 2, DType.Float32)]  // stride 2
    [InlineData(64, 64, 7, 7, 1, DType.Float32)]   // cnn3's third: the channel kernel pooling its scratch (odd: the last row and column dropped)
    [InlineData(32, 64, 14, 14, 1, DType.Float32)] // cnn3's second: the same, two 7-pixel segments a row
    [InlineData(16, 32, 13, 13, 2, DType.Float32)] // ... at stride 2 (7x7 output, odd)
    [InlineData(16, 32, 9, 8, 1, DType.Float32)]   // ... 8 wide, 32 filters
    [InlineData(3, 4, 9, 10, 1, DType.Float32)]    // 4 filters: not the direct kernel, the three ops
    [InlineData(3, 16, 9, 10, 1, DType.Float64)]   // float64: the three ops
    public void ConvReluMaxPoolEqualsTheThreeOps(int c, int oc, int h, int w, int stride, DType dtype)
    {
        var g = new Generator((ulong)(c * 100 + h));
        var x = Tensor.Randn([3, c, h, w], g, dtype);
        var wt = Tensor.Randn([oc, c, 3, 3], g, dtype);
        var b = Tensor.Randn([oc], g, dtype).Sub(0.5); // some windows without a positive value
        var before = Conv2dKernels.ForcedPath;
        try
        {
            foreach (var path in new[] { Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256, Gemm.KernelPath.Scalar })
            {
                Conv2dKernels.ForcedPath = path;
                using var _ = Tensor.NoGrad();
                var fused = Tensor.Conv2dReluMaxPool2d(x, wt, b, stride, 1);
                var plain = Tensor.Conv2d(x, wt, b, stride, 1).Relu().MaxPool2d(2);
                Assert.Equal(plain.Shape, fused.Shape);
                Assert.Equal(plain.ToDoubleArray(), fused.ToDoubleArray());
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Fact]
    public void RandomGeometriesOfTheDirectAndChannelKernelsWriteNothingPastTheirOutputs()
    {
        // 30 seeded geometries on 512-bit registers: the direct 3x3 kernel (plain, ReLU, pooled with and without a
        // per-channel affine map) and the channel-vectorized one at batch 1 (the image split by rows or filter blocks),
        // each output array longer than its tensor with a sentinel tail that must come back untouched
        var rnd = new Random(1201);
        var before = Conv2dKernels.ForcedPath;
        Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
        const float Sentinel = -4321.25f;
        const int Tail = 29;
        try
        {
            for (int trial = 0; trial < 30; trial++)
            {
                int c = rnd.Next(1, 20), oc = 8 * rnd.Next(1, 5), h = rnd.Next(2, 34), w = rnd.Next(2, 40), n = rnd.Next(1, 4), stride = rnd.Next(1, 3);
                bool pool = stride == 1 && rnd.Next(2) == 0, affine = pool && rnd.Next(2) == 0;
                float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)(rnd.NextDouble() * 2 - 1))];
                var x = R(n * c * h * w);
                var t = new float[oc * c * 9];
                DirectConv3x3.TransposeWeights(R(oc * c * 9), t, oc, c);
                int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, ys = n * oc * (pool ? oh / 2 * (ow / 2) : oh * ow);
                var y = Enumerable.Repeat(Sentinel, ys + Tail).ToArray();
                DirectConv3x3.Forward(x, t, R(oc), y, n, c, h, w, oc, relu: pool || rnd.Next(2) == 0, stride, pool, affine ? R(oc) : null, affine ? R(oc) : null);
                Assert.All(y[ys..], v => Assert.Equal(Sentinel, v));
                Assert.DoesNotContain(y[..ys], v => v == Sentinel);

                // one image of 0.2 to 25 million multiply-adds: ChannelConv3x3's batch-1 split from Parallelism.MinParallelMacs
                int cc = rnd.Next(16, 65), occ = 16 * rnd.Next(1, 4), hc = rnd.Next(10, 31), wc = rnd.Next(8, 31), sc = rnd.Next(1, 3);
                int ohc = (hc - 1) / sc + 1, owc = (wc - 1) / sc + 1;
                if (!ChannelConv3x3.Applies(new Conv2dGeometry(cc, hc, wc, 3, 3, sc, sc, 1, 1), occ)) continue;
                var xc = R(cc * hc * wc);
                var tc = new float[occ * cc * 9];
                DirectConv3x3.TransposeWeights(R(occ * cc * 9), tc, occ, cc);
                var yc = Enumerable.Repeat(Sentinel, occ * ohc * owc + Tail).ToArray();
                ChannelConv3x3.Forward(xc, tc, R(occ), yc, 1, cc, hc, wc, occ, relu: rnd.Next(2) == 0, stride: sc);
                Assert.All(yc[(occ * ohc * owc)..], v => Assert.Equal(Sentinel, v));
                Assert.DoesNotContain(yc[..(occ * ohc * owc)], v => v == Sentinel);
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Fact]
    public void ChannelKernelPoolsWhereItRunsThePlainConvolutionAndWritesNothingPastItsOutput()
    {
        // the choice: the channel kernel's pooled scratch where its 7-pixel segments fill the rows (cnn3's 14- and
        // 7-wide maps), the row kernel's pooled store where 16 lanes are filled (the exam CNN at 32x32, 16x16)
        var before = Conv2dKernels.ForcedPath;
        Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
        try
        {
            Assert.True(Conv2dKernels.PoolsInChannelConv3x3Relu(new Conv2dGeometry(32, 14, 14, 3, 3, 1, 1, 1, 1), 64));
            Assert.True(Conv2dKernels.PoolsInChannelConv3x3Relu(new Conv2dGeometry(64, 7, 7, 3, 3, 1, 1, 1, 1), 64));
            Assert.True(Conv2dKernels.PoolsInChannelConv3x3Relu(new Conv2dGeometry(16, 14, 14, 3, 3, 1, 1, 1, 1), 16));
            Assert.False(Conv2dKernels.PoolsInChannelConv3x3Relu(new Conv2dGeometry(3, 32, 32, 3, 3, 1, 1, 1, 1), 16));
            Assert.False(Conv2dKernels.PoolsInChannelConv3x3Relu(new Conv2dGeometry(16, 16, 16, 3, 3, 1, 1, 1, 1), 16));
            Assert.False(Conv2dKernels.PoolsInChannelConv3x3Relu(new Conv2dGeometry(16, 14, 14, 3, 3, 1, 1, 1, 1), 8));
            Assert.False(Conv2dKernels.PoolsInChannelConv3x3Relu(new Conv2dGeometry(16, 1, 14, 3, 3, 1, 1, 1, 1), 16)); // 1-row output

            // 20 seeded geometries on each vector width: every value of the pooled output written, nothing after it,
            // the values those of Conv2dReference + ReLU + 2x2 max pooling + the affine map
            var rnd = new Random(1202);
            const float Sentinel = -4321.25f;
            for (int trial = 0; trial < 40; trial++)
            {
                Conv2dKernels.ForcedPath = trial < 20 ? Gemm.KernelPath.Vector512 : Gemm.KernelPath.Vector256;
                int n = rnd.Next(1, 4), c = rnd.Next(1, 40), oc = 16 * rnd.Next(1, 4), h = rnd.Next(3, 20), w = rnd.Next(3, 20), stride = rnd.Next(1, 3);
                int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, ph = oh / 2, pw = ow / 2, ys = n * oc * ph * pw;
                if (ph < 1 || pw < 1) continue;
                float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)(rnd.NextDouble() * 2 - 1))];
                float[] x = R(n * c * h * w), wgt = R(oc * c * 9), bias = R(oc), scale = R(oc), shift = R(oc), t = new float[oc * c * 9];
                DirectConv3x3.TransposeWeights(wgt, t, oc, c);
                var y = Enumerable.Repeat(Sentinel, ys + 23).ToArray();
                ChannelConv3x3.ForwardReluMaxPool(x, t, bias, y, n, c, h, w, oc, stride, scale, shift);
                Assert.All(y[ys..], v => Assert.Equal(Sentinel, v));
                static double[] D(float[] a) => [.. a.Select(v => (double)v)];
                var full = Conv2dReference.Forward(D(x), D(wgt), D(bias), n, oc, new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1));
                for (int i = 0; i < n; i++)
                    for (int o = 0; o < oc; o++)
                        for (int r = 0; r < ph; r++)
                            for (int q = 0; q < pw; q++)
                            {
                                int at = (i * oc + o) * oh * ow;
                                double m = Math.Max(Math.Max(full[at + 2 * r * ow + 2 * q], full[at + 2 * r * ow + 2 * q + 1]),
                                    Math.Max(full[at + (2 * r + 1) * ow + 2 * q], full[at + (2 * r + 1) * ow + 2 * q + 1]));
                                double want = Math.Max(m, 0) * scale[o] + shift[o], got = y[((i * oc + o) * ph + r) * pw + q];
                                Assert.True(Math.Abs(want - got) <= 1e-4 * (1 + Math.Abs(want)), $"trial {trial} ({n},{c},{h},{w}) -> {oc} stride {stride}: [{i},{o},{r},{q}] {got} vs {want}");
                            }
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Theory]
    [InlineData(48, 64, 13, 11, 1)] // odd rows and columns: the row pairs split unevenly, the last row and column dropped
    [InlineData(32, 64, 14, 14, 1)] // cnn3's second layer
    [InlineData(64, 64, 7, 7, 1)]   // cnn3's third
    [InlineData(32, 64, 28, 28, 2)] // stride 2
    public void PooledFormsSplitABatch1ImageByRowsBitwiseTheOneThreadForm(int c, int oc, int h, int w, int stride)
    {
        // batch 1 on two threads (the tiles split by pairs of output rows, pooled on the calling thread) against the
        // form that runs the image on one thread: the inference form and the training form with its argmax
        var before = Conv2dKernels.ForcedPath;
        bool off = ChannelConv3x3.PooledRowSplitOff;
        try
        {
            foreach (var path in new[] { Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256 })
            {
                Conv2dKernels.ForcedPath = path;
                var rnd = new Random(c + oc + h);
                float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)(rnd.NextDouble() * 2 - 1))];
                float[] x = R(c * h * w), wgt = R(oc * c * 9), bias = R(oc), scale = R(oc), shift = R(oc), t = new float[oc * c * 9];
                DirectConv3x3.TransposeWeights(wgt, t, oc, c);
                int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, size = oc * (oh / 2) * (ow / 2);
                (float[] Y, float[] Yt, int[] Arg) Run(bool split)
                {
                    ChannelConv3x3.PooledRowSplitOff = !split;
                    float[] y = new float[size + 5], yt = new float[size + 5];
                    int[] arg = new int[size + 5];
                    using (Parallelism.UseThreads(2))
                    {
                        ChannelConv3x3.ForwardReluMaxPool(x, t, bias, y, 1, c, h, w, oc, stride, scale, shift);
                        ChannelConv3x3.ForwardMaxPool(x, t, bias, yt, arg, 1, c, h, w, oc, stride);
                    }
                    return (y, yt, arg);
                }
                var one = Run(split: false);
                var two = Run(split: true);
                Assert.Equal(one.Y.Select(BitConverter.SingleToInt32Bits), two.Y.Select(BitConverter.SingleToInt32Bits));
                Assert.Equal(one.Yt.Select(BitConverter.SingleToInt32Bits), two.Yt.Select(BitConverter.SingleToInt32Bits));
                Assert.Equal(one.Arg, two.Arg);
                Assert.Contains(two.Arg, v => v > 0);
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
            ChannelConv3x3.PooledRowSplitOff = off;
        }
    }

    [Theory]
    [InlineData(DType.Float32, 14)] // the affine map in the kernel's store
    [InlineData(DType.Float32, 7)]  // ... in the channel kernel's pooled scratch
    [InlineData(DType.Float64, 14)] // the ops one by one
    public void ConvReluMaxPoolThenAffineEqualsTheOps(DType dtype, int size)
    {
        var g = new Generator(5);
        var x = Tensor.Randn([2, 16, size, size], g, dtype);
        var w = Tensor.Randn([16, 16, 3, 3], g, dtype);
        var scale = Tensor.Randn([16], g, dtype);
        var shift = Tensor.Randn([16], g, dtype);
        using var _ = Tensor.NoGrad();
        var fused = Tensor.Conv2dReluMaxPool2d(x, w, null, 1, 1, (scale, shift)).ToDoubleArray();
        var plain = Tensor.Conv2d(x, w, null, 1, 1).Relu().MaxPool2d(2).Mul(scale.Reshape([16, 1, 1])).Add(shift.Reshape([16, 1, 1])).ToDoubleArray();
        Assert.Equal(plain.Length, fused.Length);
        for (int i = 0; i < plain.Length; i++) Assert.True(Math.Abs(plain[i] - fused[i]) <= 1e-6 * (1 + Math.Abs(plain[i])), $"[{i}]: {plain[i]} vs {fused[i]}");
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Conv2dReluMaxPool2d(x, w, null, 1, 1, (scale, Tensor.Zeros([8], dtype))));
        Assert.Equal($"Conv2dReluMaxPool2d: expected a scale and shift of shape [16] and {dtype.Name()}, got [8] {dtype.Name()} (weight [16,16,3,3]).", ex.Message);
    }

    [Fact]
    public void ConvReluMaxPoolRecordsTheThreeOpsGradients()
    {
        var x = Tensor.Randn([2, 8, 6, 5], new Generator(1)).RequiresGrad_();
        var w = Tensor.Randn([8, 8, 3, 3], new Generator(2)).RequiresGrad_();
        var y = Tensor.Conv2dReluMaxPool2d(x, w, null, 1, 1);
        Assert.Equal([2, 8, 3, 2], y.Shape);
        Assert.NotNull(y.GradFn);
        y.Sum().Backward();
        var x2 = x.Detach().RequiresGrad_();
        var w2 = w.Detach().RequiresGrad_();
        Tensor.Conv2d(x2, w2, null, 1, 1).Relu().MaxPool2d(2).Sum().Backward();
        Assert.Equal(x2.Grad!.ToArray(), x.Grad!.ToArray());
        Assert.Equal(w2.Grad!.ToArray(), w.Grad!.ToArray());
    }

    [Fact]
    public void ConvReluMaxPoolErrorsNameTheOpAndTheCallersShapes()
    {
        using var _ = Tensor.NoGrad();
        var x = Tensor.Zeros([2, 3, 8, 8]);
        var w = Tensor.Zeros([16, 3, 3, 3]);
        Assert.Equal("Conv2dReluMaxPool2d: the convolution's output 1x8 is smaller than the 2x2 pooling window: input [1,3,1,8], weight [16,3,3,3], stride 1, padding 1.",
            Assert.Throws<ArgumentException>(() => Tensor.Conv2dReluMaxPool2d(Tensor.Zeros([1, 3, 1, 8]), w, null, 1, 1)).Message);
        Assert.Equal("Conv2dReluMaxPool2d: expected bias of shape [16], got [15] (weight [16,3,3,3]).",
            Assert.Throws<ArgumentException>(() => Tensor.Conv2dReluMaxPool2d(x, w, Tensor.Zeros([15]), 1, 1)).Message);
        Assert.Equal("Conv2dReluMaxPool2d: input channels differ (3 vs 4): input [2,3,8,8], weight [16,4,3,3].",
            Assert.Throws<ArgumentException>(() => Tensor.Conv2dReluMaxPool2d(x, Tensor.Zeros([16, 4, 3, 3]), null, 1, 1)).Message);
        Assert.Equal("Conv2dReluMaxPool2d: padding (1073741820,1073741820) makes the padded input 2147483648x2147483648, larger than 2147483647: input [2,3,8,8], weight [16,3,3,3].",
            Assert.Throws<ArgumentException>(() => Tensor.Conv2dReluMaxPool2d(x, w, null, 1, 1_073_741_820)).Message);
        Assert.Throws<ArgumentNullException>(() => Tensor.Conv2dReluMaxPool2d(x, w, null, 1, 1, (null!, Tensor.Zeros([16]))));
    }

    [Theory]
    [InlineData(16, 3, 1, 1, DType.Float32)]  // direct 3x3 kernel
    [InlineData(4, 3, 1, 1, DType.Float32)]   // im2col path
    [InlineData(16, 3, 2, 0, DType.Float64)]
    public void FusedEqualsConvThenRelu(int oc, int k, int stride, int pad, DType dtype)
    {
        var g = new Generator(31);
        var x = Tensor.Randn([2, 3, 9, 10], g, dtype);
        var w = Tensor.Randn([oc, 3, k, k], g, dtype);
        var b = Tensor.Randn([oc], g, dtype);
        using var _ = Tensor.NoGrad();
        var fused = Tensor.Conv2dRelu(x, w, b, stride, pad).ToDoubleArray();
        var plain = Tensor.Conv2d(x, w, b, stride, pad).Relu().ToDoubleArray();
        Assert.Equal(plain, fused);
    }

    [Theory]
    [InlineData(8)]  // direct kernel
    [InlineData(3)]  // im2col path
    public void GradientsEqualConvThenRelu(int oc)
    {
        var x1 = Tensor.Randn([2, 8, 6, 5], new Generator(1)).RequiresGrad_();
        var w1 = Tensor.Randn([oc, 8, 3, 3], new Generator(2)).RequiresGrad_();
        var b1 = Tensor.Randn([oc], new Generator(3)).RequiresGrad_();
        var x2 = x1.Detach().RequiresGrad_();
        var w2 = w1.Detach().RequiresGrad_();
        var b2 = b1.Detach().RequiresGrad_();
        var up = Tensor.Randn([2, oc, 6, 5], new Generator(4));
        var y1 = Tensor.Conv2dRelu(x1, w1, b1, 1, 1);
        Assert.Equal("Conv2dReluBackward", y1.GradFn!.Name);
        y1.Backward(up);
        Tensor.Conv2d(x2, w2, b2, 1, 1).Relu().Backward(up);
        Assert.Equal(x2.Grad!.ToArray(), x1.Grad!.ToArray());
        Assert.Equal(w2.Grad!.ToArray(), w1.Grad!.ToArray());
        Assert.Equal(b2.Grad!.ToArray(), b1.Grad!.ToArray());
    }
}

public sealed class FusedLinearReluTests
{
    [Theory]
    [InlineData(256, 784, 256, DType.Float32)] // the mlp's first layer: full 6 x 32 tiles, bias and ReLU in registers, two threads
    [InlineData(37, 300, 70, DType.Float32)]   // ragged tiles (rows and columns): the epilogue as the tile is copied out
    [InlineData(1, 300, 70, DType.Float32)]    // one row: the vector-matrix product, then the epilogue
    [InlineData(40, 1500, 9, DType.Float32)]   // two passes over K, a narrow output computed transposed
    [InlineData(20, 50, 30, DType.Float64)]
    public void FusedEqualsLinearThenReluBitwise(int rows, int inF, int outF, DType dtype)
    {
        var g = new Generator(43);
        var x = Tensor.Randn([rows, inF], g, dtype);
        var w = Tensor.Randn([outF, inF], g, dtype);
        var b = Tensor.Randn([outF], g, dtype);
        using var _ = Tensor.NoGrad();
        var plain = Tensor.Linear(x, w, b).Relu().ToDoubleArray();
        Assert.Equal(plain, Tensor.LinearRelu(x, w, b).ToDoubleArray());
        Assert.Equal(Tensor.Linear(x, w).Relu().ToDoubleArray(), Tensor.LinearRelu(x, w).ToDoubleArray());
        Assert.Contains(0.0, plain); // the ReLU clipped something
    }

    [Fact]
    public void GradientsEqualLinearThenRelu()
    {
        var x1 = Tensor.Randn([64, 100], new Generator(1)).RequiresGrad_();
        var w1 = Tensor.Randn([40, 100], new Generator(2)).RequiresGrad_();
        var b1 = Tensor.Randn([40], new Generator(3)).RequiresGrad_();
        var x2 = x1.Detach().RequiresGrad_();
        var w2 = w1.Detach().RequiresGrad_();
        var b2 = b1.Detach().RequiresGrad_();
        var up = Tensor.Randn([64, 40], new Generator(4));
        Tensor.LinearRelu(x1, w1, b1).Backward(up);
        Tensor.Linear(x2, w2, b2).Relu().Backward(up);
        Assert.Equal(x2.Grad!.ToArray(), x1.Grad!.ToArray());
        Assert.Equal(w2.Grad!.ToArray(), w1.Grad!.ToArray());
        Assert.Equal(b2.Grad!.ToArray(), b1.Grad!.ToArray());
    }

    [Fact]
    public void WrongShapesNameLinearRelu()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.LinearRelu(Tensor.Zeros([2, 5]), Tensor.Zeros([3, 4])));
        Assert.StartsWith("LinearRelu: expected input with 4 features", ex.Message, StringComparison.Ordinal);
    }
}

public sealed class MaxPoolVectorTests
{
    [Theory]
    [InlineData(28, 28)]  // 14 outputs per row: one vector step + scalar tail
    [InlineData(32, 32)]  // 16 outputs: two vector steps
    [InlineData(6, 40)]
    [InlineData(4, 7)]    // odd width: 3 outputs, all in the padded tail block
    [InlineData(14, 14)]  // 7 outputs: the tail block only
    [InlineData(5, 15)]   // odd width and height
    [InlineData(2, 2)]    // one output
    [InlineData(3, 34)]   // 17 outputs: two vector steps and a 1-wide tail
    public void VectorRowsEqualTheGeneralKernelWithTiesAndNaN(int h, int w)
    {
        var gen = new Generator((ulong)(h * 100 + w));
        var geo = new Conv2dGeometry(2, h, w, 2, 2, 2, 2, 0, 0);
        int planes = 4, n = planes * h * w;
        var x = Enumerable.Range(0, n).Select(_ => (float)gen.NextInt(3)).ToArray(); // many ties
        x[n / 3] = float.NaN;
        AssertMaxPool2x2MatchesReference(x, planes, geo);
    }

    // the 2x2 max-pool fast path == the reference: the same values and the same argmax, on each register width
    internal static void AssertMaxPool2x2MatchesReference(float[] x, int planes, Conv2dGeometry geo)
    {
        float[] y1 = new float[planes * geo.L];
        int[] a1 = new int[y1.Length];
        PoolKernels.MaxForward<float>(x, y1, a1, planes, geo);
        var before = Conv2dKernels.ForcedPath;
        try
        {
            foreach (var path in new[] { Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256, Gemm.KernelPath.Scalar })
            {
                Conv2dKernels.ForcedPath = path;
                float[] y2 = new float[planes * geo.L];
                int[] a2 = new int[y1.Length];
                PoolKernels.MaxForward2x2<float>(x, y2, a2, planes, geo);
                Assert.Equal(a1, a2);
                Assert.Equal(y1, y2);
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }
}

public sealed class AddReluTests
{
    [Theory]
    [InlineData(DType.Float32, 100_003)] // split over the threads, a ragged tail
    [InlineData(DType.Float32, 37)]
    [InlineData(DType.Float64, 5_001)]
    public void AddReluIsBitwiseAddThenRelu(DType dtype, int n)
    {
        var g = new Generator(53);
        var a = Tensor.Randn([n], g, dtype);
        var b = Tensor.Randn([n], g, dtype);
        using (Tensor.NoGrad())
        {
            a[3] = double.NaN;
            b[5] = double.PositiveInfinity;
            a[7] = -0.0;
            b[7] = 0.0;
        }
        var fused = a.AddRelu(b).ToDoubleArray();
        Assert.Equal(a.Add(b).Relu().ToDoubleArray(), fused);
        Assert.True(double.IsNaN(fused[3])); // a NaN stays NaN, as PyTorch's relu
    }

    [Fact]
    public void GradientsEqualAddThenRelu()
    {
        var a1 = Tensor.Randn([4, 8, 7, 7], new Generator(1)).RequiresGrad_();
        var b1 = Tensor.Randn([4, 8, 7, 7], new Generator(2)).RequiresGrad_();
        var a2 = a1.Detach().RequiresGrad_();
        var b2 = b1.Detach().RequiresGrad_();
        var up = Tensor.Randn([4, 8, 7, 7], new Generator(3));
        a1.AddRelu(b1).Backward(up);
        a2.Add(b2).Relu().Backward(up);
        Assert.Equal(a2.Grad!.ToArray(), a1.Grad!.ToArray());
        Assert.Equal(b2.Grad!.ToArray(), b1.Grad!.ToArray());
    }

    [Fact]
    public void OperandsOfDifferentShapesAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).AddRelu(Tensor.Zeros([3])));
        Assert.StartsWith("AddRelu: expected operands of one shape (no broadcasting), got [2,3] and [3]", ex.Message, StringComparison.Ordinal);
    }
}

public sealed class Conv2dMaxPool2dTests
{
    // the training op for Conv2d -> MaxPool2d(2): bitwise the two ops, values and gradients, on every backward path
    [Theory]
    [InlineData(1, 28, 16, 1, false, true, DType.Float32)]  // the exam CNN's first layer: dw and db from the pooled gradient, image by image
    [InlineData(3, 32, 16, 1, false, true, DType.Float32)]  // at 3x32x32
    [InlineData(3, 9, 8, 1, false, false, DType.Float32)]   // odd map, no bias
    [InlineData(2, 12, 8, 2, false, true, DType.Float32)]   // stride 2
    [InlineData(16, 14, 16, 1, true, true, DType.Float32)]  // the input needs a gradient: the unpooled gradient, then the convolution's
    [InlineData(4, 8, 8, 1, false, true, DType.Float32)]    // small maps: the bias gradient is summed in blocks of images, so the unpooled path
    [InlineData(3, 10, 8, 1, false, true, DType.Float64)]
    [InlineData(16, 14, 32, 1, true, true, DType.Float32)]  // the exam CNN's second layer: pooled inside the channel kernel
    [InlineData(16, 7, 32, 1, false, true, DType.Float32)]  // odd map: the last row and column dropped
    [InlineData(16, 14, 32, 2, true, false, DType.Float32)] // stride 2, 7x7 -> 3x3
    [InlineData(5, 13, 48, 1, false, true, DType.Float32)]  // three channel registers, odd map
    public void EqualsConvThenMaxPoolBitwise(int c, int size, int oc, int stride, bool inputGrad, bool withBias, DType dtype)
    {
        var g = new Generator(61);
        var x1 = Tensor.Randn([5, c, size, size], g, dtype);
        var w1 = Tensor.Randn([oc, c, 3, 3], g, dtype).RequiresGrad_();
        var b1 = withBias ? Tensor.Randn([oc], g, dtype).RequiresGrad_() : null;
        if (inputGrad) x1.RequiresGrad_();
        var x2 = inputGrad ? x1.Detach().RequiresGrad_() : x1;
        var w2 = w1.Detach().RequiresGrad_();
        var b2 = b1?.Detach().RequiresGrad_();
        var y1 = Tensor.Conv2dMaxPool2d(x1, w1, b1, stride, 1);
        var y2 = Tensor.Conv2d(x2, w2, b2, stride, 1).MaxPool2d(2);
        Assert.Equal(y2.Shape, y1.Shape);
        Assert.Equal(y2.ToDoubleArray(), y1.ToDoubleArray());
        var up = Tensor.Randn(y1.Shape, new Generator(62), dtype);
        y1.Relu().Backward(up);
        y2.Relu().Backward(up);
        Assert.Equal(w2.Grad!.ToDoubleArray(), w1.Grad!.ToDoubleArray());
        if (withBias) Assert.Equal(b2!.Grad!.ToDoubleArray(), b1!.Grad!.ToDoubleArray());
        if (inputGrad) Assert.Equal(x2.Grad!.ToDoubleArray(), x1.Grad!.ToDoubleArray());
    }

    // pooled inside the channel kernel: NaN and infinities take over as MaxPool2d's kernel lets them (the machine's
    // vector width, and AVX2's 8 lanes)
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PoolingInTheChannelKernelKeepsMaxPoolsNaNRule(bool avx2)
    {
        var before = Conv2dKernels.ForcedPath;
        if (avx2) Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
        try
        {
            PoolingKeepsMaxPoolsNaNRule();
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    private static void PoolingKeepsMaxPoolsNaNRule()
    {
        // AVX2 (8 lanes, 16 registers): the channel kernel wherever it applies; AVX-512: where its segments fill the rows,
        // or up to 32 input channels
        bool vector = Conv2dKernels.Path is Gemm.KernelPath.Vector512 or Gemm.KernelPath.Vector256;
        Assert.Equal(vector, Conv2dKernels.PoolsInChannelConv3x3(new Conv2dGeometry(16, 14, 14, 3, 3, 1, 1, 1, 1), 32));
        Assert.Equal(vector, Conv2dKernels.PoolsInChannelConv3x3(new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 1, 1), 16));
        Assert.Equal(vector, Conv2dKernels.PoolsInChannelConv3x3(new Conv2dGeometry(3, 32, 32, 3, 3, 1, 1, 1, 1), 16));
        Assert.Equal(Conv2dKernels.Path == Gemm.KernelPath.Vector256, Conv2dKernels.PoolsInChannelConv3x3(new Conv2dGeometry(64, 16, 16, 3, 3, 1, 1, 1, 1), 128));
        var g = new Generator(63);
        var x = Tensor.Randn([3, 16, 10, 10], g);
        using (Tensor.NoGrad())
        {
            x[0, 2, 4, 4] = double.NaN; // its 3x3 neighbourhood reaches the window of rows 2-3, columns 2-3 at (3, 3) only: a NaN after numbers
            x[1, 5, 0, 7] = double.PositiveInfinity;
            x[2, 0, 9, 9] = double.NegativeInfinity;
        }
        var w = Tensor.Randn([32, 16, 3, 3], g);
        var b = Tensor.Randn([32], g);
        using var _ = Tensor.NoGrad();
        Assert.Equal(Tensor.Conv2d(x, w, b, 1, 1).MaxPool2d(2).ToDoubleArray(), Tensor.Conv2dMaxPool2d(x, w, b, 1, 1).ToDoubleArray());
    }

    // each image is pooled from its own scratch: the same bits for any thread count and batch split
    [Fact]
    public void PoolingInTheChannelKernelIsTheSameForAnyThreadCount()
    {
        var g = new Generator(64);
        var x = Tensor.Randn([7, 16, 14, 14], g);
        var w = Tensor.Randn([32, 16, 3, 3], g);
        var b = Tensor.Randn([32], g);
        using var _ = Tensor.NoGrad();
        double[] Run(int threads, int from, int to)
        {
            using var t = Parallelism.UseThreads(threads);
            return Tensor.Conv2dMaxPool2d(x.Slice(0, from, to), w, b, 1, 1).ToDoubleArray();
        }
        var one = Run(1, 0, 7);
        Assert.Equal(one, Run(2, 0, 7));
        Assert.Equal(one, Run(3, 0, 3).Concat(Run(2, 3, 7)).ToArray());
    }

    [Fact]
    public void FirstLayersTakeThePooledWeightGradient()
    {
        // 1 -> 16 and 3 -> 16 filters at 28x28 and 32x32 run the direct weight gradient from the pooled gradient
        bool vector = Conv2dKernels.Path is Gemm.KernelPath.Vector512 or Gemm.KernelPath.Vector256;
        Assert.Equal(vector, Conv2dKernels.BackwardsFromMaxPool(new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 1, 1), 16, 128, wantBias: true));
        Assert.Equal(vector, Conv2dKernels.BackwardsFromMaxPool(new Conv2dGeometry(3, 32, 32, 3, 3, 1, 1, 1, 1), 16, 64, wantBias: true));
        Assert.False(Conv2dKernels.BackwardsFromMaxPool(new Conv2dGeometry(4, 8, 8, 3, 3, 1, 1, 1, 1), 8, 5, wantBias: true)); // db in image blocks
        Assert.False(Conv2dKernels.BackwardsFromMaxPool(new Conv2dGeometry(1, 28, 28, 5, 5, 1, 1, 2, 2), 16, 128, wantBias: true)); // 5x5
    }

    [Fact]
    public void AnEmptyKernelIsRejected()
    {
        // as PyTorch ("non-positive kernel size"): a 0x0 kernel would make a map of the bias alone
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Conv2dMaxPool2d(Tensor.Zeros([1, 3, 8, 8]), Tensor.Zeros([4, 3, 0, 0]), Tensor.Zeros([4]), 1, 1));
        Assert.StartsWith("Conv2dMaxPool2d: expected a kernel of at least 1x1, got 0x0", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([1, 3, 8, 8]), Tensor.Zeros([4, 3, 3, 0]), null, 1, 1));
    }

    [Fact]
    public void AnOutputSmallerThanTheWindowIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Conv2dMaxPool2d(Tensor.Zeros([1, 1, 1, 5]), Tensor.Zeros([4, 1, 3, 3]), null, 1, 1));
        Assert.StartsWith("Conv2dMaxPool2d: the convolution's output 1x5 is smaller than the 2x2 pooling window", ex.Message, StringComparison.Ordinal);
    }
}
