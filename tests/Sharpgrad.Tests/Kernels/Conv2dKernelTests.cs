using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>im2col + GEMM convolution against the direct loops of <see cref="Conv2dReference"/>.</summary>
public sealed class Conv2dKernelTests
{
    [Theory]
    [InlineData(6, 14, 14, 5, 1, 0)]   // lenet5's second convolution: 10-wide runs
    [InlineData(1, 28, 28, 5, 1, 2)]   // lenet5's first: padded rows and columns
    [InlineData(2, 5, 11, 3, 1, 3)]    // padding wider than the kernel: whole rows and runs of padding
    [InlineData(3, 9, 20, 1, 1, 0)]    // 1x1: one run per row
    [InlineData(2, 7, 9, 3, 2, 1)]     // stride 2: element by element
    [InlineData(2, 4, 33, 7, 1, 1)]    // runs of 27-33: several vectors and an overlapping last one
    public void Im2ColAndCol2ImEqualTheirDefinitions(int c, int h, int w, int k, int stride, int pad)
    {
        var g = new Conv2dGeometry(c, h, w, k, k, stride, stride, pad, pad);
        var gen = new Generator(43);
        var x = Enumerable.Range(0, c * h * w).Select(_ => (float)gen.NextNormal()).ToArray();
        var col = Enumerable.Range(0, g.Ckk * g.L).Select(_ => (float)gen.NextNormal()).ToArray();
        // definitions: col[(c, kh, kw), (i, j)] = x[c, i S - P + kh, j S - P + kw] or 0; col2im sums each col entry into that x
        var expectCol = new float[g.Ckk * g.L];
        var expectDx = new float[x.Length];
        for (int ci = 0; ci < c; ci++)
            for (int kh = 0; kh < k; kh++)
                for (int kw = 0; kw < k; kw++)
                    for (int i = 0; i < g.OH; i++)
                        for (int j = 0; j < g.OW; j++)
                        {
                            int hh = i * stride - pad + kh, ww = j * stride - pad + kw, r = ((ci * k + kh) * k + kw) * g.L + i * g.OW + j;
                            if (hh < 0 || hh >= h || ww < 0 || ww >= w) continue;
                            expectCol[r] = x[(ci * h + hh) * w + ww];
                            expectDx[(ci * h + hh) * w + ww] += col[r];
                        }
        var gotCol = Enumerable.Repeat(float.NaN, g.Ckk * g.L).ToArray(); // every element must be written
        Conv2dKernels.Im2Col<float>(x, g, gotCol);
        Assert.Equal(expectCol, gotCol);
        var gotDx = Enumerable.Repeat(float.NaN, x.Length).ToArray();
        Conv2dKernels.Col2Im<float>(col, g, gotDx);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(expectDx[i] - gotDx[i]) <= 1e-5f, $"Col2Im element {i}: expected {expectDx[i]}, got {gotDx[i]}");
    }

    [Theory]
    [InlineData(2, 3, 16, 8, 8, 3, 1, 1)]
    [InlineData(3, 1, 16, 28, 28, 3, 1, 1)]
    [InlineData(2, 16, 16, 14, 14, 3, 1, 1)]
    [InlineData(1, 2, 3, 9, 7, 3, 2, 0)]
    [InlineData(2, 4, 5, 6, 5, 5, 2, 2)]
    [InlineData(5, 3, 2, 5, 5, 1, 1, 0)]
    [InlineData(1, 2, 2, 3, 3, 3, 3, 2)]
    public void FastConvolutionEqualsReference(int n, int c, int oc, int h, int w, int k, int stride, int pad)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            using (Parallelism.UseThreads(threads)) // this thread only: tests in other classes run alongside
            {
                var gen = new Generator((ulong)(n * 1000 + c * 100 + h));
                var g = new Conv2dGeometry(c, h, w, k, k, stride, stride, pad, pad);
                var x = Enumerable.Range(0, n * c * h * w).Select(_ => gen.NextNormal()).ToArray();
                var wt = Enumerable.Range(0, oc * c * k * k).Select(_ => gen.NextNormal()).ToArray();
                var b = Enumerable.Range(0, oc).Select(_ => gen.NextNormal()).ToArray();
                var dy = Enumerable.Range(0, n * oc * g.L).Select(_ => gen.NextNormal()).ToArray();

                var y = new double[n * oc * g.L];
                Conv2dKernels.Forward(x, wt, b, y, n, oc, g);
                Close(Conv2dReference.Forward(x, wt, b, n, oc, g), y);

                var (rdx, rdw, rdb) = Conv2dReference.Backward(dy, x, wt, n, oc, g);
                double[] dx = new double[x.Length], dw = new double[wt.Length], db = new double[oc];
                Conv2dKernels.Backward(dy, x, wt, dx, dw, db, n, oc, g);
                Close(rdx, dx);
                Close(rdw, dw);
                Close(rdb, db);
            }
        }
    }

    [Theory]
    [InlineData(2, 4, 6, 7, 6, 3, 2, 2, 1, 1, 0, 2)]
    [InlineData(2, 4, 8, 6, 5, 3, 3, 1, 1, 1, 1, 4)]   // depthwise, channel multiplier 2
    [InlineData(3, 3, 3, 7, 8, 3, 5, 1, 2, 1, 2, 3)]   // depthwise, 3x5 kernel
    [InlineData(1, 6, 9, 5, 5, 1, 1, 1, 1, 0, 0, 3)]   // grouped 1x1
    [InlineData(5, 2, 2, 4, 4, 2, 2, 2, 2, 1, 1, 1)]
    public void GroupedConvolutionEqualsReference(int n, int c, int oc, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int groups)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            using (Parallelism.UseThreads(threads))
            {
                var gen = new Generator((ulong)(n * 1000 + c * 100 + groups));
                var g = new Conv2dGeometry(c, h, w, kh, kw, sh, sw, ph, pw);
                var x = Enumerable.Range(0, n * c * h * w).Select(_ => gen.NextNormal()).ToArray();
                var wt = Enumerable.Range(0, oc * c / groups * kh * kw).Select(_ => gen.NextNormal()).ToArray();
                var b = Enumerable.Range(0, oc).Select(_ => gen.NextNormal()).ToArray();
                var dy = Enumerable.Range(0, n * oc * g.L).Select(_ => gen.NextNormal()).ToArray();

                var y = new double[n * oc * g.L];
                Conv2dKernels.Forward(x, wt, b, y, n, oc, g, groups);
                Close(Conv2dReference.Forward(x, wt, b, n, oc, g, groups), y);

                var (rdx, rdw, rdb) = Conv2dReference.Backward(dy, x, wt, n, oc, g, groups);
                double[] dx = new double[x.Length], dw = new double[wt.Length], db = new double[oc];
                Conv2dKernels.Backward(dy, x, wt, dx, dw, db, n, oc, g, groups);
                Close(rdx, dx);
                Close(rdw, dw);
                Close(rdb, db);
            }
        }
    }

    private static void Close(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-10 * (1 + Math.Abs(expected[i])), $"element {i}: {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void ErrorsNameTheOpAndShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([1, 3, 8, 8]), Tensor.Zeros([16, 1, 3, 3])));
        Assert.Equal("Conv2d: input channels differ (3 vs 1): input [1,3,8,8], weight [16,1,3,3].", ex.Message);
        var big = Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([1, 1, 2, 2]), Tensor.Zeros([1, 1, 3, 3])));
        Assert.Contains("kernel 3x3 is larger than the padded input 2x2", big.Message);
        // the fused op names itself; a padding whose output no tensor can hold is the op's error, not Tensor's
        var fused = Assert.Throws<ArgumentException>(() => Tensor.Conv2dRelu(Tensor.Zeros([2, 3, 10, 10]), Tensor.Zeros([4, 2, 5, 5])));
        Assert.Equal("Conv2dRelu: input channels differ (3 vs 2): input [2,3,10,10], weight [4,2,5,5].", fused.Message);
        var huge = Assert.Throws<ArgumentException>(() => Tensor.Conv2d(Tensor.Zeros([2, 4, 3, 3]), Tensor.Zeros([4, 4, 5, 5]), null, 1, 100_000));
        Assert.Equal("Conv2d: the output would have 319996800008 elements, more than 2147483647 (stride (1,1), padding (100000,100000)): input [2,4,3,3], weight [4,4,5,5].", huge.Message);
        var pool = Assert.Throws<ArgumentException>(() => Tensor.Zeros([1, 1, 4, 4]).MaxPool2d(2, 2, 2));
        Assert.Contains("MaxPool2d: padding must be between 0 and half the kernel size (1), got 2", pool.Message);
        var bn = Assert.Throws<ArgumentException>(() => Tensor.BatchNorm(Tensor.Zeros([1, 3]), null, null, null, null, training: true));
        Assert.Contains("expected more than 1 value per channel when training", bn.Message);
    }
}

/// <summary>The direct 3x3 kernel against the reference loops, on the exam CNN's shapes and odd widths, each vector width forced in turn.</summary>
public sealed class DirectConv3x3Tests
{
    [Theory]
    [InlineData(2, 3, 16, 32, 32)]
    [InlineData(2, 16, 16, 16, 16)]
    [InlineData(3, 1, 16, 28, 28)]
    [InlineData(2, 16, 16, 14, 14)]
    [InlineData(1, 5, 8, 7, 19)]
    [InlineData(2, 8, 24, 3, 40)]
    [InlineData(2, 2, 8, 5, 3)]   // a row narrower than the spill: every row through the buffer
    [InlineData(1, 3, 16, 32, 32)]  // one image (batch-1 latency)
    [InlineData(1, 16, 24, 14, 14)]
    [InlineData(1, 16, 32, 28, 28)]     // one image, 3.6 M multiply-adds: output channels split over the threads
    [InlineData(2, 16, 32, 28, 28, 2)]  // the ResNets' stride-2 convolutions
    [InlineData(2, 32, 64, 14, 14, 2)]
    [InlineData(1, 3, 8, 9, 13, 2)]     // odd sizes
    [InlineData(2, 8, 16, 7, 7, 2)]
    [InlineData(1, 4, 8, 1, 5, 2)]
    [InlineData(3, 2, 8, 6, 33, 2)]
    public void ForwardAndInputGradientEqualReference(int n, int c, int oc, int h, int w, int stride = 1)
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            foreach (var path in new[] { Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256, Gemm.KernelPath.Scalar })
            {
                Conv2dKernels.ForcedPath = path;
                Check(n, c, oc, h, w, stride);
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Fact]
    public void TransposedWeightsMatchTheirDefinition()
    {
        // t[(ci*9 + k)*OC + o] = w[(o*C + ci)*9 + k]: 8 x 8 register blocks and the ragged edges (OC or C*9 not a multiple of 8)
        foreach (var (oc, c) in new[] { (16, 16), (8, 1), (12, 3), (24, 5), (3, 2), (64, 32), (9, 8) })
        {
            var w = new float[oc * c * 9];
            for (int i = 0; i < w.Length; i++) w[i] = i + 1;
            var t = new float[w.Length + 5];
            DirectConv3x3.TransposeWeights(w, t, oc, c);
            for (int o = 0; o < oc; o++)
                for (int k = 0; k < c * 9; k++)
                    Assert.True(t[k * oc + o] == w[o * c * 9 + k], $"oc {oc}, c {c}: t[{k * oc + o}] = {t[k * oc + o]}, expected {w[o * c * 9 + k]}");
            Assert.All(t[w.Length..], v => Assert.Equal(0f, v)); // nothing written past OC*C*9
        }
    }

    private static float[] Transposed(float[] w, int oc, int c)
    {
        var t = new float[w.Length + 5]; // longer than needed, as a rented array may be
        DirectConv3x3.TransposeWeights(w, t, oc, c);
        return t;
    }

    private static float[] FlippedTransposed(float[] w, int oc, int c)
    {
        var t = new float[w.Length + 3];
        DirectConv3x3.FlippedTransposedWeights(w, new float[w.Length + 7], t, oc, c);
        return t;
    }

    private static void Check(int n, int c, int oc, int h, int w, int stride)
    {
        var gen = new Generator((ulong)(c * 31 + w));
        var g = new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1);
        var x = Enumerable.Range(0, n * c * h * w).Select(_ => (float)gen.NextNormal()).ToArray();
        var wt = Enumerable.Range(0, oc * c * 9).Select(_ => (float)gen.NextNormal()).ToArray();
        var b = Enumerable.Range(0, oc).Select(_ => (float)gen.NextNormal()).ToArray();
        var y = new float[n * oc * g.L];
        DirectConv3x3.Forward(x, Transposed(wt, oc, c), b, y, n, c, h, w, oc, stride: stride);
        var reference = Conv2dReference.Forward(x.Select(v => (double)v).ToArray(), wt.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), n, oc, g);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(reference[i] - y[i]) <= 1e-4 * (1 + Math.Abs(reference[i])), $"{Conv2dKernels.Path} y[{i}]: {reference[i]} vs {y[i]}");
        DirectConv3x3.Forward(x, Transposed(wt, oc, c), b, y, n, c, h, w, oc, relu: true, stride: stride);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(Math.Max(reference[i], 0) - y[i]) <= 1e-4 * (1 + Math.Abs(reference[i])), $"{Conv2dKernels.Path} relu y[{i}]: {reference[i]} vs {y[i]}");

        if (Conv2dKernels.Path != Gemm.KernelPath.Scalar)
        {
            // ReLU and 2x2 max pooling (stride 2, floor) fused: the full-size output is never stored
            int oh = g.OH, ow = g.OW, ph = oh / 2, pw = ow / 2;
            var pooled = Enumerable.Repeat(float.NaN, n * oc * ph * pw).ToArray();
            DirectConv3x3.Forward(x, Transposed(wt, oc, c), b, pooled, n, c, h, w, oc, relu: true, stride: stride, pool: true);
            for (int i = 0; i < n * oc; i++)
                for (int r = 0; r < ph; r++)
                    for (int q = 0; q < pw; q++)
                    {
                        double m = 0;
                        for (int dr = 0; dr < 2; dr++)
                            for (int dq = 0; dq < 2; dq++) m = Math.Max(m, reference[(i * oh + 2 * r + dr) * ow + 2 * q + dq]);
                        float got = pooled[(i * ph + r) * pw + q];
                        Assert.True(Math.Abs(m - got) <= 1e-4 * (1 + Math.Abs(m)), $"{Conv2dKernels.Path} pooled[{i},{r},{q}]: {m} vs {got}");
                    }
        }

        var dy0 = Enumerable.Range(0, y.Length).Select(_ => (float)gen.NextNormal()).ToArray();
        var dw = new float[wt.Length];
        DirectConv3x3.WeightGradient(x, dy0, dw, n, c, h, w, oc, stride);
        var (_, rdw, _) = Conv2dReference.Backward(dy0.Select(v => (double)v).ToArray(), x.Select(v => (double)v).ToArray(), wt.Select(v => (double)v).ToArray(), n, oc, g);
        for (int i = 0; i < dw.Length; i++) Assert.True(Math.Abs(rdw[i] - dw[i]) <= 1e-3 * (1 + Math.Abs(rdw[i])), $"{Conv2dKernels.Path} dw[{i}]: {rdw[i]} vs {dw[i]}");

        if (c % 8 != 0 || stride != 1) return;
        var dy = Enumerable.Range(0, y.Length).Select(_ => (float)gen.NextNormal()).ToArray();
        var dx = new float[x.Length];
        DirectConv3x3.Forward(dy, FlippedTransposed(wt, oc, c), null, dx, n, oc, h, w, c);
        var (rdx, _, _) = Conv2dReference.Backward(dy.Select(v => (double)v).ToArray(), x.Select(v => (double)v).ToArray(), wt.Select(v => (double)v).ToArray(), n, oc, g);
        for (int i = 0; i < dx.Length; i++) Assert.True(Math.Abs(rdx[i] - dx[i]) <= 1e-4 * (1 + Math.Abs(rdx[i])), $"{Conv2dKernels.Path} dx[{i}]: {rdx[i]} vs {dx[i]}");
    }
}

/// <summary><see cref="ChannelConv3x3"/> (vectorized over channels: forward, weight gradient, stride-2 input gradient) against <see cref="Conv2dReference"/>, on every vector width.</summary>
public sealed class ChannelConv3x3Tests
{
    private static readonly Gemm.KernelPath[] Paths = [Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256, Gemm.KernelPath.Scalar];

    [Theory]
    [InlineData(2, 64, 64, 7, 7)]        // resnet stage 3
    [InlineData(2, 32, 64, 14, 14, 2)]
    [InlineData(2, 16, 32, 28, 28, 2)]   // resnet stage 2
    [InlineData(3, 16, 32, 14, 14)]
    [InlineData(1, 64, 64, 7, 7)]        // one image under Parallelism.MinParallelMacs (1.8 M): on one thread
    [InlineData(1, 32, 64, 14, 14, 2)]
    [InlineData(1, 16, 16, 28, 28)]
    [InlineData(1, 64, 64, 9, 9)]        // one image, 3.0 M multiply-adds: output channel blocks split over the threads
    [InlineData(1, 64, 64, 18, 18, 2)]
    [InlineData(1, 32, 32, 28, 28)]      // one image, one block of filters: output rows split in pairs over the threads
    [InlineData(1, 48, 32, 20, 20)]      // (input-stationary tiles, two-register tiles, four-segment tiles at stride 2,
    [InlineData(1, 64, 16, 31, 31)]      // odd row counts, a row count that pairs unevenly over the threads)
    [InlineData(1, 64, 32, 30, 30, 2)]
    [InlineData(1, 128, 32, 9, 9)]
    [InlineData(2, 3, 32, 7, 7)]         // odd sizes: partial and odd segment counts, one-row and one-column maps
    [InlineData(1, 5, 32, 9, 13, 2)]
    [InlineData(2, 4, 32, 1, 5)]
    [InlineData(1, 3, 32, 5, 3, 2)]
    [InlineData(2, 8, 32, 6, 33)]
    [InlineData(3, 2, 96, 4, 9)]
    [InlineData(2, 5, 48, 7, 9)]         // a single register of filters left over: four-segment tiles
    [InlineData(1, 3, 16, 9, 7, 2)]
    [InlineData(2, 16, 16, 28, 28)]      // resnet stage 1: input-stationary tiles (one register, stride 1)
    [InlineData(1, 3, 16, 5, 11)]        // odd rows: the last row pairs with a dropped one
    [InlineData(2, 4, 24, 6, 6)]         // one 8-lane register left over with AVX2; not a 16-lane multiple
    [InlineData(3, 16, 16, 14, 14)]      // the exam CNN's second layer: the weight gradient's one-register loop
    [InlineData(2, 3, 16, 32, 32)]       // AVX2: rows a multiple of 8 wide run 8-pixel segments (the exam CNN at 3x32x32)
    [InlineData(2, 16, 24, 16, 16)]
    [InlineData(1, 5, 8, 3, 8)]
    public void ForwardAndWeightGradientEqualReference(int n, int c, int oc, int h, int w, int stride = 1)
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            foreach (var path in Paths)
            {
                Conv2dKernels.ForcedPath = path;
                if (!ChannelConv3x3.Applies(new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1), oc)) continue;
                foreach (int threads in new[] { 1, 2 })
                {
                    using (Parallelism.UseThreads(threads))
                    {
                        var gen = new Generator((ulong)(c * 37 + w * 3 + h));
                        var g = new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1);
                        var x = Enumerable.Range(0, n * c * h * w).Select(_ => (float)gen.NextNormal()).ToArray();
                        var wt = Enumerable.Range(0, oc * c * 9).Select(_ => (float)gen.NextNormal()).ToArray();
                        var b = Enumerable.Range(0, oc).Select(_ => (float)gen.NextNormal()).ToArray();
                        var t = new float[wt.Length + 5]; // longer than needed, as a rented array may be
                        DirectConv3x3.TransposeWeights(wt, t, oc, c);
                        var reference = Conv2dReference.Forward(x.Select(v => (double)v).ToArray(), wt.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), n, oc, g);
                        var y = Enumerable.Repeat(float.NaN, n * oc * g.L).ToArray();
                        ChannelConv3x3.Forward(x, t, b, y, n, c, h, w, oc, stride: stride);
                        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(reference[i] - y[i]) <= 1e-4 * (1 + Math.Abs(reference[i])), $"{path} y[{i}]: {reference[i]} vs {y[i]}");
                        ChannelConv3x3.Forward(x, t, null, y, n, c, h, w, oc, relu: true, stride: stride);
                        var unbiased = Conv2dReference.Forward(x.Select(v => (double)v).ToArray(), wt.Select(v => (double)v).ToArray(), null, n, oc, g);
                        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(Math.Max(unbiased[i], 0) - y[i]) <= 1e-4 * (1 + Math.Abs(unbiased[i])), $"{path} relu y[{i}]: {unbiased[i]} vs {y[i]}");

                        if (!ChannelConv3x3.AppliesWeightGradient(g, oc)) continue;
                        var dy = Enumerable.Range(0, y.Length).Select(_ => (float)gen.NextNormal()).ToArray();
                        var dw = Enumerable.Repeat(float.NaN, wt.Length + 3).ToArray();
                        ChannelConv3x3.WeightGradient(x, dy, dw, n, c, h, w, oc, stride);
                        var (_, rdw, _) = Conv2dReference.Backward(dy.Select(v => (double)v).ToArray(), x.Select(v => (double)v).ToArray(), wt.Select(v => (double)v).ToArray(), n, oc, g);
                        for (int i = 0; i < rdw.Length; i++) Assert.True(Math.Abs(rdw[i] - dw[i]) <= 1e-3 * (1 + Math.Abs(rdw[i])), $"{path} dw[{i}]: {rdw[i]} vs {dw[i]}");
                        Assert.True(float.IsNaN(dw[wt.Length]), "WeightGradient wrote past dw");
                    }
                }
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Theory]
    [InlineData(64, 7, 7, 1)]   // cnn3's and resnet's 7x7 stage: 7 one-segment rows, the last alone
    [InlineData(32, 14, 14, 2)] // 14 -> 7 at stride 2
    [InlineData(16, 5, 19, 1)]  // 3 segments a row, 5 rows: 15 segments
    public void AnOddLastSegmentAloneIsBitwiseItPairedWithItself(int c, int h, int w, int stride)
    {
        // the half tile takes the same sums in the same order as a tile whose second segment repeats the first
        var before = Conv2dKernels.ForcedPath;
        bool pairBefore = ChannelConv3x3.PairOddSegment;
        try
        {
            foreach (var path in Paths)
            {
                Conv2dKernels.ForcedPath = path;
                const int N = 2, OC = 64;
                var gen = new Generator((ulong)(c + h + stride));
                var x = Enumerable.Range(0, N * c * h * w).Select(_ => (float)gen.NextNormal()).ToArray();
                var wt = Enumerable.Range(0, OC * c * 9).Select(_ => (float)gen.NextNormal()).ToArray();
                var b = Enumerable.Range(0, OC).Select(_ => (float)gen.NextNormal()).ToArray();
                var t = new float[wt.Length];
                DirectConv3x3.TransposeWeights(wt, t, OC, c);
                int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1;
                float[] Run(bool pair, bool relu)
                {
                    ChannelConv3x3.PairOddSegment = pair;
                    var y = new float[N * OC * oh * ow];
                    ChannelConv3x3.Forward(x, t, b, y, N, c, h, w, OC, relu, stride);
                    return y;
                }
                Assert.Equal(Run(true, false), Run(false, false));
                Assert.Equal(Run(true, true), Run(false, true));
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
            ChannelConv3x3.PairOddSegment = pairBefore;
        }
    }

    [Theory]
    [InlineData(2, 16, 32, 28, 28)]   // resnet stage 2 (one register of input channels), stage 3 (two)
    [InlineData(2, 32, 64, 14, 14)]
    [InlineData(1, 48, 16, 9, 13)]    // odd sizes: odd rows and columns, partial segments, both tile kinds
    [InlineData(3, 16, 8, 1, 1)]
    [InlineData(2, 32, 24, 2, 31)]
    [InlineData(1, 16, 3, 5, 16)]
    public void StrideTwoInputGradientEqualsReference(int n, int c, int oc, int h, int w)
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            foreach (var path in Paths)
            {
                Conv2dKernels.ForcedPath = path;
                var g = new Conv2dGeometry(c, h, w, 3, 3, 2, 2, 1, 1);
                if (!ChannelConv3x3.AppliesInputGradientStride2(g)) continue;
                foreach (int threads in new[] { 1, 2 })
                {
                    using (Parallelism.UseThreads(threads))
                    {
                        var gen = new Generator((ulong)(c * 43 + w * 5 + h));
                        var x = new double[n * c * h * w];
                        var wt = Enumerable.Range(0, oc * c * 9).Select(_ => (float)gen.NextNormal()).ToArray();
                        var dy = Enumerable.Range(0, n * oc * g.L).Select(_ => (float)gen.NextNormal()).ToArray();
                        var dx = Enumerable.Repeat(float.NaN, x.Length + 2).ToArray();
                        ChannelConv3x3.InputGradientStride2(dy, wt, dx, n, c, h, w, oc);
                        var (rdx, _, _) = Conv2dReference.Backward(dy.Select(v => (double)v).ToArray(), x, wt.Select(v => (double)v).ToArray(), n, oc, g);
                        for (int i = 0; i < rdx.Length; i++) Assert.True(Math.Abs(rdx[i] - dx[i]) <= 1e-4 * (1 + Math.Abs(rdx[i])), $"{path} dx[{i}]: {rdx[i]} vs {dx[i]}");
                        Assert.True(float.IsNaN(dx[x.Length]), "InputGradientStride2 wrote past dx");
                    }
                }
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Theory]
    [InlineData(2, 64, 64, 7, 7, 1)]   // stage 3: both kernels' choices, forward and input gradient
    [InlineData(2, 32, 64, 14, 14, 2)]
    [InlineData(2, 32, 32, 14, 14, 1)]
    [InlineData(1, 16, 16, 28, 28, 1)]
    [InlineData(2, 8, 16, 7, 7, 1)]    // 16 filters on a 7-wide map: the four-segment tiles
    [InlineData(2, 16, 32, 28, 28, 2)] // the stride-2 input gradient
    [InlineData(1, 48, 16, 9, 9, 2)]
    public void ConvolutionLayerEqualsReference(int n, int c, int oc, int h, int w, int stride)
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            foreach (var path in Paths)
            {
                Conv2dKernels.ForcedPath = path;
                var gen = new Generator((ulong)(c * 41 + w));
                var g = new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1);
                var x = Enumerable.Range(0, n * c * h * w).Select(_ => (float)gen.NextNormal()).ToArray();
                var wt = Enumerable.Range(0, oc * c * 9).Select(_ => (float)gen.NextNormal()).ToArray();
                var y = new float[n * oc * g.L];
                Conv2dKernels.Forward(x, wt, null, y, n, oc, g);
                double[] xd = x.Select(v => (double)v).ToArray(), wd = wt.Select(v => (double)v).ToArray();
                var reference = Conv2dReference.Forward(xd, wd, null, n, oc, g);
                for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(reference[i] - y[i]) <= 1e-4 * (1 + Math.Abs(reference[i])), $"{path} y[{i}]: {reference[i]} vs {y[i]}");
                var dy = Enumerable.Range(0, y.Length).Select(_ => (float)gen.NextNormal()).ToArray();
                var dx = new float[x.Length];
                var dw = new float[wt.Length];
                Conv2dKernels.Backward(dy, x, wt, dx, dw, null, n, oc, g);
                var (rdx, rdw, _) = Conv2dReference.Backward(dy.Select(v => (double)v).ToArray(), xd, wd, n, oc, g);
                for (int i = 0; i < dx.Length; i++) Assert.True(Math.Abs(rdx[i] - dx[i]) <= 1e-4 * (1 + Math.Abs(rdx[i])), $"{path} dx[{i}]: {rdx[i]} vs {dx[i]}");
                for (int i = 0; i < dw.Length; i++) Assert.True(Math.Abs(rdw[i] - dw[i]) <= 1e-3 * (1 + Math.Abs(rdw[i])), $"{path} dw[{i}]: {rdw[i]} vs {dw[i]}");
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }
}

public sealed class PointwiseConvTests
{
    [Theory]
    [InlineData(3, 16, 32, 28, 28)]   // mobilenet's 16 -> 32: dx on Forward (16 filters over 32 channels, 784 pixels)
    [InlineData(2, 32, 64, 14, 14)]   // 32 -> 64
    [InlineData(2, 64, 128, 7, 7)]    // 64 -> 128 at 7x7: dx on ForwardChannels (64 filters over 128 channels, 49 pixels)
    [InlineData(3, 128, 128, 7, 7)]
    [InlineData(2, 24, 40, 9, 11)]    // 99 pixels, 24 filters: three 8-filter tiles, ragged registers
    [InlineData(2, 20, 32, 8, 8)]     // 20 input channels: not 8k filters for dx, the GEMM stays
    public void InputGradientOfA1x1ConvolutionOnThePointwiseKernelsMatchesTheReferenceAndTheGemm(int n, int c, int oc, int h, int w)
    {
        var g = new Conv2dGeometry(c, h, w, 1, 1, 1, 1, 0, 0);
        var rnd = new Random(c * 31 + oc + h);
        float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)(rnd.NextDouble() * 2 - 1))];
        float[] x = R(n * c * h * w), wt = R(oc * c), dy = R(n * oc * h * w);
        var (rdx, _, _) = Conv2dReference.Backward([.. dy.Select(v => (double)v)], [.. x.Select(v => (double)v)], [.. wt.Select(v => (double)v)], n, oc, g);
        const float Sentinel = -4321.25f;
        float[] Dx(bool gemm, int threads)
        {
            var dx = Enumerable.Repeat(Sentinel, x.Length + 5).ToArray();
            bool before = Conv2dKernels.PointwiseInputGradientOff;
            Conv2dKernels.PointwiseInputGradientOff = gemm;
            try
            {
                using var _ = Parallelism.UseThreads(threads);
                Conv2dKernels.Backward(dy, x, wt, dx, null, null, n, oc, g);
            }
            finally
            {
                Conv2dKernels.PointwiseInputGradientOff = before;
            }
            Assert.All(dx[x.Length..], v => Assert.Equal(Sentinel, v));
            return dx[..x.Length];
        }
        var direct = Dx(gemm: false, 2);
        var viaGemm = Dx(gemm: true, 2);
        for (int i = 0; i < rdx.Length; i++)
        {
            Assert.True(Math.Abs(direct[i] - rdx[i]) <= 1e-4 * (1 + Math.Abs(rdx[i])), $"dx[{i}]: {direct[i]} vs {rdx[i]}");
            Assert.True(Math.Abs(direct[i] - viaGemm[i]) <= 1e-4 * (1 + Math.Abs(viaGemm[i])), $"dx[{i}]: {direct[i]} vs the GEMM's {viaGemm[i]}");
        }
        Assert.Equal(direct, Dx(gemm: false, 1)); // each pixel summed by one thread: the same bits for any thread count
        Assert.Equal(direct, Dx(gemm: false, 3));
    }

    [Fact]
    public void RunsMobileNetsWidePointwiseLayersOnAvx2AndAvx512()
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
            Assert.True(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 32, 1));
            Assert.True(PointwiseConv.Applies(new Conv2dGeometry(32, 14, 14, 1, 1, 1, 1, 0, 0), 64, 1));
            Assert.False(PointwiseConv.Applies(new Conv2dGeometry(64, 7, 7, 1, 1, 1, 1, 0, 0), 128, 1));  // 49 pixels: the GEMM over several images
            Assert.False(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 36, 1)); // not 8k filters
            Assert.False(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 2, 2, 0, 0), 32, 1)); // stride 2
            Assert.False(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 1, 1), 32, 1)); // padded
            Assert.False(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 32, 2)); // grouped
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
            Assert.True(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 32, 1));
            Assert.True(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 36, 1)); // 4k filters on AVX2
            Assert.False(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 34, 1));
            Assert.False(PointwiseConv.Applies(new Conv2dGeometry(64, 7, 7, 1, 1, 1, 1, 0, 0), 128, 1));
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Scalar;
            Assert.False(PointwiseConv.Applies(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 32, 1));
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Fact]
    public void SeededGeometriesEqualTheReferenceAndWriteNothingPastTheOutput()
    {
        // 30 seeded shapes on each of 512-bit (8k filters) and 256-bit registers (4k filters): plane sizes that end on
        // a partial register and groups of fewer than three registers, with and without bias and ReLU, on one and two
        // threads; Tensor.Conv2d on the same shape takes this kernel
        var before = Conv2dKernels.ForcedPath;
        var rnd = new Random(1301);
        const float Sentinel = -4321.25f;
        try
        {
            for (int trial = 0; trial < 60; trial++)
            {
                bool wide = trial < 30;
                Conv2dKernels.ForcedPath = wide ? Gemm.KernelPath.Vector512 : Gemm.KernelPath.Vector256;
                int n = rnd.Next(1, 4), c = rnd.Next(1, 40), oc = (wide ? 8 : 4) * rnd.Next(1, 6), h = rnd.Next(8, 31), w = rnd.Next(8, 31);
                var g = new Conv2dGeometry(c, h, w, 1, 1, 1, 1, 0, 0);
                if (!PointwiseConv.Applies(g, oc, 1)) continue;
                bool bias = rnd.Next(2) == 0, relu = rnd.Next(2) == 0;
                float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)(rnd.NextDouble() * 2 - 1))];
                float[] x = R(n * c * h * w), wt = R(oc * c), b = R(oc);
                var reference = Conv2dReference.Forward([.. x.Select(v => (double)v)], [.. wt.Select(v => (double)v)], bias ? [.. b.Select(v => (double)v)] : null, n, oc, g);
                foreach (int threads in new[] { 1, 2 })
                {
                    using var _ = Parallelism.UseThreads(threads);
                    var y = Enumerable.Repeat(Sentinel, n * oc * h * w + 19).ToArray();
                    PointwiseConv.Forward(x, wt, bias ? b : null, y, n, oc, g, relu);
                    Assert.All(y[(n * oc * h * w)..], v => Assert.Equal(Sentinel, v));
                    for (int i = 0; i < reference.Length; i++)
                    {
                        double want = relu ? Math.Max(reference[i], 0) : reference[i];
                        Assert.True(Math.Abs(want - y[i]) <= 1e-5 * (1 + Math.Abs(want)), $"trial {trial} ({n},{c},{h},{w}) -> {oc}, bias {bias}, relu {relu}, {threads} threads: y[{i}] {y[i]} vs {want}");
                    }
                    var viaOp = Tensor.Conv2d(Tensor.FromArray(x, [n, c, h, w]), Tensor.FromArray(wt, [oc, c, 1, 1]), bias ? Tensor.FromArray(b, [oc]) : null).ToArray();
                    var plain = new float[viaOp.Length];
                    PointwiseConv.Forward(x, wt, bias ? b : null, plain, n, oc, g, relu: false);
                    Assert.Equal(plain, viaOp);
                }
            }
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
            Assert.Equal("PointwiseConv.Forward: needs AVX2 or AVX-512, a 1x1 stride-1 unpadded kernel, filters a multiple of 8 (AVX-512) or 4 (AVX2) and at least 64 pixels, got a 1x1 kernel, stride 1, padding 0, 8 filters and 49 pixels.",
                Assert.Throws<ArgumentException>(() => PointwiseConv.Forward(new float[196], new float[32], null, new float[392], 1, 8, new Conv2dGeometry(4, 7, 7, 1, 1, 1, 1, 0, 0), false)).Message);
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Fact]
    public void SmallPlanesRunTheChannelKernelThatEqualsTheReference()
    {
        // planes of 7 to 63 pixels with 32k filters (AVX-512) or 8k (AVX2): vectorized over filters (7x7: mobilenet's
        // last two pointwise layers); 30 seeded shapes on each width, with and without bias and ReLU, one and two
        // threads, nothing written past the output; through Tensor.Conv2d with a parameter (its transposed weights
        // kept) and after an in-place write
        var before = Conv2dKernels.ForcedPath;
        Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
        var rnd = new Random(1302);
        const float Sentinel = -4321.25f;
        try
        {
            Assert.True(PointwiseConv.UsesChannels(new Conv2dGeometry(64, 7, 7, 1, 1, 1, 1, 0, 0), 128, 1));
            Assert.True(PointwiseConv.UsesChannels(new Conv2dGeometry(128, 7, 7, 1, 1, 1, 1, 0, 0), 128, 1));
            Assert.False(PointwiseConv.UsesChannels(new Conv2dGeometry(64, 7, 7, 1, 1, 1, 1, 0, 0), 48, 1));  // not 32k filters
            Assert.False(PointwiseConv.UsesChannels(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 32, 1)); // the pixel kernel's
            Assert.False(PointwiseConv.UsesChannels(new Conv2dGeometry(16, 2, 3, 1, 1, 1, 1, 0, 0), 32, 1));   // fewer than 7 pixels
            Assert.True(PointwiseConv.UsesChannels(new Conv2dGeometry(16, 28, 28, 1, 1, 2, 2, 0, 0), 32, 1));  // resnet's shortcuts
            Assert.True(PointwiseConv.UsesChannels(new Conv2dGeometry(32, 14, 14, 1, 1, 2, 2, 0, 0), 64, 1));
            Assert.False(PointwiseConv.UsesChannels(new Conv2dGeometry(32, 16, 16, 1, 1, 2, 2, 0, 0), 64, 1)); // 8-wide rows
            Assert.True(Conv2dKernels.UsesTransposedWeights(new Conv2dGeometry(64, 7, 7, 1, 1, 1, 1, 0, 0), 128, 1));
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
            Assert.True(PointwiseConv.UsesChannels(new Conv2dGeometry(64, 7, 7, 1, 1, 1, 1, 0, 0), 48, 1));   // 8k filters on AVX2
            Assert.False(PointwiseConv.UsesChannels(new Conv2dGeometry(64, 7, 7, 1, 1, 1, 1, 0, 0), 44, 1));
            Assert.True(PointwiseConv.UsesChannels(new Conv2dGeometry(16, 28, 28, 1, 1, 2, 2, 0, 0), 32, 1));
            Assert.False(PointwiseConv.UsesChannels(new Conv2dGeometry(16, 28, 28, 1, 1, 1, 1, 0, 0), 32, 1));
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Scalar;
            Assert.False(PointwiseConv.UsesChannels(new Conv2dGeometry(64, 7, 7, 1, 1, 1, 1, 0, 0), 128, 1));
            var splits = new int[2];
            for (int trial = 0; trial < 60; trial++)
            {
                // every third trial stride 2 with output rows of 7 or 14 pixels (a ResNet's projection shortcut)
                bool wide = trial < 30;
                Conv2dKernels.ForcedPath = wide ? Gemm.KernelPath.Vector512 : Gemm.KernelPath.Vector256;
                int n = rnd.Next(1, 4), c = rnd.Next(1, 130), oc = (wide ? 32 : 8) * rnd.Next(1, wide ? 5 : 17), stride = trial % 3 == 2 ? 2 : 1;
                int h = stride == 1 ? rnd.Next(1, 9) : rnd.Next(2, 29), w = stride == 1 ? rnd.Next(1, 9) : 7 * rnd.Next(1, 3) * 2 - rnd.Next(2);
                if (trial % 4 == 0)
                {
                    // one image large enough to split its filter blocks over the threads (PointwiseConv.SplitMacs)
                    (n, c, oc) = (1, rnd.Next(96, 130), 128);
                    if (stride == 1) (h, w) = (rnd.Next(5, 8), rnd.Next(5, 8));
                }
                var g = new Conv2dGeometry(c, h, w, 1, 1, stride, stride, 0, 0);
                if (!PointwiseConv.UsesChannels(g, oc, 1)) continue;
                bool bias = rnd.Next(2) == 0, relu = rnd.Next(2) == 0;
                float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)(rnd.NextDouble() * 2 - 1))];
                float[] x = R(n * c * h * w), wt = R(oc * c), b = R(oc), t = new float[oc * c];
                DirectConv3x3.TransposeWeights(wt, t, oc, c, 1);
                var reference = Conv2dReference.Forward([.. x.Select(v => (double)v)], [.. wt.Select(v => (double)v)], bias ? [.. b.Select(v => (double)v)] : null, n, oc, g);
                if (n == 1 && (long)oc * c * g.L >= PointwiseConv.SplitMacs) splits[wide ? 0 : 1]++;
                float[]? first = null;
                foreach (int threads in new[] { 2, 1 }) // two first: a scratch array from the pool holds another shape's sums
                {
                    using var _ = Parallelism.UseThreads(threads);
                    var y = Enumerable.Repeat(Sentinel, n * oc * g.L + 19).ToArray();
                    PointwiseConv.ForwardChannels(x, t, bias ? b : null, y, n, oc, g, relu);
                    // two threads split the images, or one image's filter blocks from SplitMacs: the same bits as one
                    if (first is null) first = y;
                    else Assert.Equal(first, y);
                    Assert.All(y[(n * oc * g.L)..], v => Assert.Equal(Sentinel, v));
                    for (int i = 0; i < reference.Length; i++)
                    {
                        double want = relu ? Math.Max(reference[i], 0) : reference[i];
                        Assert.True(Math.Abs(want - y[i]) <= 1e-5 * (1 + Math.Abs(want)), $"trial {trial} ({n},{c},{h},{w}) -> {oc} stride {stride}, bias {bias}, relu {relu}, {threads} threads: y[{i}] {y[i]} vs {want}");
                    }
                    if (oc % 32 == 0)
                    {
                        // the two widths sum each output in the same order: the same bits
                        Conv2dKernels.ForcedPath = wide ? Gemm.KernelPath.Vector256 : Gemm.KernelPath.Vector512;
                        var other = new float[n * oc * g.L];
                        PointwiseConv.ForwardChannels(x, t, bias ? b : null, other, n, oc, g, relu);
                        Conv2dKernels.ForcedPath = wide ? Gemm.KernelPath.Vector512 : Gemm.KernelPath.Vector256;
                        Assert.Equal(y[..other.Length], other);
                    }
                }
                var weight = Tensor.FromArray(wt, [oc, c, 1, 1]).RequiresGrad_();
                var input = Tensor.FromArray(x, [n, c, h, w]);
                var plain = new float[n * oc * g.L];
                PointwiseConv.ForwardChannels(x, t, null, plain, n, oc, g, relu: false);
                using (Tensor.NoGrad())
                {
                    Assert.Equal(plain, Tensor.Conv2d(input, weight, null, stride).ToArray());
                    weight.AsSpan<float>()[0] += 1f; // a write the kept layout must follow
                    var moved = wt.ToArray();
                    moved[0] += 1f;
                    DirectConv3x3.TransposeWeights(moved, t, oc, c, 1);
                    PointwiseConv.ForwardChannels(x, t, null, plain, n, oc, g, relu: false);
                    Assert.Equal(plain, Tensor.Conv2d(input, weight, null, stride).ToArray());
                }
            }
            Assert.True(splits[0] >= 3 && splits[1] >= 3, $"one image split over the threads in {splits[0]} (AVX-512) and {splits[1]} (AVX2) trials");
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }
}
