using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>The direct small-reduction convolution against the loops of <see cref="Conv2dReference"/>.</summary>
public sealed class DirectConvRowsTests
{
    [Theory]
    [InlineData(3, 1, 6, 28, 28, 5, 5, 2, 2)]   // lenet5's first: two registers a row, 6 filters (a partial group of 4)
    [InlineData(2, 6, 16, 14, 14, 5, 5, 0, 0)]  // lenet5's second: 10-wide rows, one register
    [InlineData(1, 2, 5, 9, 16, 3, 3, 1, 1)]    // a row of exactly one register, an odd row count, 5 filters
    [InlineData(2, 3, 7, 6, 17, 3, 5, 1, 2)]    // 17 wide: one lane of the second register; rectangular kernel, other paddings
    [InlineData(1, 1, 3, 1, 32, 1, 3, 0, 1)]    // one row, 32 wide: two full registers; 1x3 kernel
    [InlineData(4, 4, 9, 11, 8, 4, 2, 2, 0)]    // even kernel sizes
    [InlineData(1, 16, 4, 5, 5, 3, 3, 3, 3)]    // padding wider than the kernel reach; C KH KW = 144
    [InlineData(2, 3, 5, 9, 40, 5, 5, 2, 2)]    // 40 wide: AVX2's flat rows only; an odd filter count (a pair of one)
    [InlineData(1, 1, 1, 1, 2, 1, 2, 0, 0)]     // one output pixel, one filter
    [InlineData(3, 2, 4, 12, 12, 7, 7, 3, 3)]   // 7x7 (C KH KW = 98): more taps than a tile has registers
    public void ForwardEqualsTheReferenceAndWritesNothingElse(int n, int c, int oc, int h, int w, int kh, int kw, int ph, int pw)
    {
        OnEachPath(new Conv2dGeometry(c, h, w, kh, kw, 1, 1, ph, pw), path => ForwardOnPath(path, new Conv2dGeometry(c, h, w, kh, kw, 1, 1, ph, pw), n, oc));
    }

    private static void ForwardOnPath(Gemm.KernelPath path, Conv2dGeometry g, int n, int oc)
    {
        int c = g.C, h = g.H, w = g.W, kh = g.KH, kw = g.KW;
        {
            Assert.True(DirectConvRows.Applies(g, 1), $"{g} should take the direct rows kernel on {path}");
            var gen = new Generator((ulong)(c * 31 + w * 7 + kh));
            float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)gen.NextNormal())];
            float[] x = R(n * c * h * w), wt = R(oc * c * kh * kw), b = R(oc);
            int size = n * oc * g.L;
            const float Sentinel = -1234.5f;
            foreach (bool bias in new[] { true, false })
            foreach (bool relu in new[] { false, true })
            foreach (int threads in new[] { 1, 2 })
            {
                var reference = Conv2dReference.Forward(x.Select(v => (double)v).ToArray(), wt.Select(v => (double)v).ToArray(),
                    bias ? b.Select(v => (double)v).ToArray() : null, n, oc, g);
                var y = Enumerable.Repeat(Sentinel, size + 37).ToArray();
                using (Parallelism.UseThreads(threads))
                    DirectConvRows.Forward(x, wt, bias ? b : null, y, n, oc, g, relu);
                for (int i = 0; i < size; i++)
                {
                    double want = relu ? Math.Max(0, reference[i]) : reference[i];
                    Assert.True(Math.Abs(want - y[i]) <= 1e-4 * (1 + Math.Abs(want)), $"{path} bias {bias} relu {relu} threads {threads} y[{i}]: {want} vs {y[i]}");
                }
                Assert.All(y[size..], v => Assert.Equal(Sentinel, v));
            }
        }
    }

    [Theory]
    [InlineData(3, 1, 6, 28, 28, 5, 5, 2, 2)]   // lenet5's first (28x28 -> 14x14)
    [InlineData(2, 6, 16, 14, 14, 5, 5, 0, 0)]  // lenet5's second (10x10 -> 5x5)
    [InlineData(1, 2, 5, 9, 17, 3, 3, 1, 1)]    // odd rows and columns: the last of each dropped; 17 wide
    [InlineData(2, 3, 7, 7, 32, 3, 5, 1, 2)]    // two full registers a row -> 16 pooled values
    [InlineData(1, 1, 3, 2, 3, 1, 2, 0, 0)]     // the smallest: a 2x2 output, one window
    [InlineData(2, 2, 3, 13, 37, 5, 3, 1, 1)]   // 35 wide (17 pooled columns), 11 rows: AVX2's flat rows only
    public void PooledForwardEqualsTheReferencePooledAndWritesNothingElse(int n, int c, int oc, int h, int w, int kh, int kw, int ph, int pw)
    {
        OnEachPath(new Conv2dGeometry(c, h, w, kh, kw, 1, 1, ph, pw), path => PooledOnPath(path, new Conv2dGeometry(c, h, w, kh, kw, 1, 1, ph, pw), n, oc));
    }

    private static void PooledOnPath(Gemm.KernelPath path, Conv2dGeometry g, int n, int oc)
    {
        int c = g.C, h = g.H, w = g.W, kh = g.KH, kw = g.KW;
        {
            Assert.True(DirectConvRows.Applies(g, 1), $"{g} should take the direct rows kernel on {path}");
            var gen = new Generator((ulong)(c * 29 + w * 5 + kw));
            float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)gen.NextNormal())];
            float[] x = R(n * c * h * w), wt = R(oc * c * kh * kw), b = R(oc), scale = R(oc), shift = R(oc);
            int ph2 = g.OH / 2, pw2 = g.OW / 2, size = n * oc * ph2 * pw2;
            var reference = Conv2dReference.Forward(x.Select(v => (double)v).ToArray(), wt.Select(v => (double)v).ToArray(), b.Select(v => (double)v).ToArray(), n, oc, g);
            const float Sentinel = -1234.5f;
            foreach (bool affine in new[] { false, true })
            foreach (int threads in new[] { 1, 2 })
            {
                var y = Enumerable.Repeat(Sentinel, size + 37).ToArray();
                using (Parallelism.UseThreads(threads))
                    DirectConvRows.Forward(x, wt, b, y, n, oc, g, relu: true, pool: true, affine ? scale : null, affine ? shift : null);
                for (int i = 0; i < n; i++)
                for (int o = 0; o < oc; o++)
                for (int p = 0; p < ph2; p++)
                for (int q = 0; q < pw2; q++)
                {
                    double m = 0; // the ReLU
                    for (int dp = 0; dp < 2; dp++)
                        for (int dq = 0; dq < 2; dq++)
                            m = Math.Max(m, reference[((i * oc + o) * g.OH + 2 * p + dp) * g.OW + 2 * q + dq]);
                    if (affine) m = m * scale[o] + shift[o];
                    float got = y[((i * oc + o) * ph2 + p) * pw2 + q];
                    Assert.True(Math.Abs(m - got) <= 1e-4 * (1 + Math.Abs(m)), $"{path} affine {affine} threads {threads} ({i},{o},{p},{q}): {m} vs {got}");
                }
                Assert.All(y[size..], v => Assert.Equal(Sentinel, v));
            }
        }
    }

    // body on each vector path whose kernel is meant to run g (forced); elsewhere Applies must say no
    private static void OnEachPath(Conv2dGeometry g, Action<Gemm.KernelPath> body)
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            foreach (var path in new[] { Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256 })
            {
                Conv2dKernels.ForcedPath = path;
                if (AppliesOn(path, g)) body(path);
                else Assert.False(DirectConvRows.Applies(g, 1), $"{g} should not take the direct rows kernel on {path}");
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    // where each path's kernel is meant to run: AVX-512 rows of at most two registers; AVX2 flat rows of any width but
    // not 3x3 kernels
    private static bool AppliesOn(Gemm.KernelPath path, Conv2dGeometry g) =>
        path == Gemm.KernelPath.Vector512 ? g.OW <= 32 : !(g.KH == 3 && g.KW == 3);

    [Theory]
    [InlineData(1, 6, 28, 5, 2)]  // lenet5's first
    [InlineData(6, 16, 14, 5, 0)] // lenet5's second
    [InlineData(3, 5, 17, 4, 1)]  // an odd filter count, 16 output columns
    public void TheTwoPathsGiveTheSameBits(int c, int oc, int size, int k, int pad)
    {
        // AVX2's flat rows and AVX-512's row pairs start every sum at the bias and add the taps in the same order
        var g = new Conv2dGeometry(c, size, size, k, k, 1, 1, pad, pad);
        var gen = new Generator((ulong)(c + oc + size));
        float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)gen.NextNormal())];
        const int N = 3;
        float[] x = R(N * c * size * size), w = R(oc * c * k * k), b = R(oc), scale = R(oc), shift = R(oc);
        int plain = N * oc * g.L, pooled = N * oc * (g.OH / 2) * (g.OW / 2);
        var before = Conv2dKernels.ForcedPath;
        try
        {
            float[][] Run(Gemm.KernelPath path)
            {
                Conv2dKernels.ForcedPath = path;
                Assert.True(DirectConvRows.Applies(g, 1));
                float[] y = new float[plain], yr = new float[plain], yp = new float[pooled];
                DirectConvRows.Forward(x, w, b, y, N, oc, g, relu: false);
                DirectConvRows.Forward(x, w, null, yr, N, oc, g, relu: true);
                DirectConvRows.Forward(x, w, b, yp, N, oc, g, relu: true, pool: true, scale, shift);
                return [y, yr, yp];
            }
            var wide = Run(Gemm.KernelPath.Vector512);
            var narrow = Run(Gemm.KernelPath.Vector256);
            for (int i = 0; i < 3; i++) Assert.Equal(wide[i].Select(BitConverter.SingleToInt32Bits), narrow[i].Select(BitConverter.SingleToInt32Bits));
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Theory]
    [InlineData(2, 6, 16, 14, 14, 5, 5, 0, 0)]  // lenet5's second layer: dy 10x10 padded by 4
    [InlineData(3, 1, 6, 28, 28, 5, 5, 2, 2)]   // lenet5's first (its input gradient is not needed in the model)
    [InlineData(1, 3, 5, 9, 13, 4, 2, 3, 1)]    // even kernel sizes, padding up to KH - 1, an odd filter count
    [InlineData(2, 2, 3, 7, 40, 1, 5, 0, 4)]    // a 1x5 kernel on a 40-wide map
    public void InputGradientEqualsTheReference(int n, int c, int oc, int h, int w, int kh, int kw, int ph, int pw)
    {
        var g = new Conv2dGeometry(c, h, w, kh, kw, 1, 1, ph, pw);
        var before = Conv2dKernels.ForcedPath;
        try
        {
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
            Assert.True(DirectConvRows.AppliesInputGradient(g, oc, 1));
            var gen = new Generator((ulong)(c * 13 + w + kh));
            float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)gen.NextNormal())];
            float[] x = R(n * c * h * w), wt = R(oc * c * kh * kw), dy = R(n * oc * g.L);
            var reference = Conv2dReference.Backward(dy.Select(v => (double)v).ToArray(), x.Select(v => (double)v).ToArray(),
                wt.Select(v => (double)v).ToArray(), n, oc, g).Dx;
            const float Sentinel = -1234.5f;
            foreach (int threads in new[] { 1, 2 })
            {
                var dx = Enumerable.Repeat(Sentinel, x.Length + 11).ToArray();
                using (Parallelism.UseThreads(threads))
                    DirectConvRows.InputGradient(dy, wt, dx, n, oc, g);
                for (int i = 0; i < x.Length; i++)
                    Assert.True(Math.Abs(reference[i] - dx[i]) <= 1e-4 * (1 + Math.Abs(reference[i])), $"threads {threads} dx[{i}]: {reference[i]} vs {dx[i]}");
                Assert.All(dx[x.Length..], v => Assert.Equal(Sentinel, v));
            }
            // where it does not apply
            Assert.False(DirectConvRows.AppliesInputGradient(new Conv2dGeometry(4, 9, 9, 3, 3, 1, 1, 1, 1), 8, 1)); // 3x3: the 3x3 kernels'
            Assert.False(DirectConvRows.AppliesInputGradient(new Conv2dGeometry(4, 9, 9, 5, 5, 2, 2, 2, 2), 8, 1)); // stride 2
            Assert.False(DirectConvRows.AppliesInputGradient(new Conv2dGeometry(4, 9, 9, 2, 2, 1, 1, 2, 2), 8, 1)); // padding = kernel
            Assert.True(DirectConvRows.AppliesInputGradient(new Conv2dGeometry(4, 9, 9, 5, 5, 1, 1, 2, 2), 19, 1));  // OC KH KW 475
            Assert.False(DirectConvRows.AppliesInputGradient(new Conv2dGeometry(4, 9, 9, 5, 5, 1, 1, 2, 2), 20, 1)); // 500: the GEMM
            Assert.False(DirectConvRows.AppliesInputGradient(new Conv2dGeometry(4, 9, 9, 5, 5, 1, 1, 2, 2), 8, 2)); // groups
            Assert.Throws<ArgumentException>(() => DirectConvRows.InputGradient(new float[16 * 49], new float[16 * 16 * 9], new float[16 * 81], 1, 16,
                new Conv2dGeometry(16, 9, 9, 3, 3, 1, 1, 1, 1)));
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
            Assert.False(DirectConvRows.AppliesInputGradient(g, oc, 1));
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Fact]
    public void TheFusedOpIsBitwiseTheThreeOps()
    {
        // lenet5's first layer at batch 3: Conv2dReluMaxPool2d pools inside the kernel, Conv2dRelu + MaxPool2d does not
        var g = new Generator(5);
        var x = Tensor.Randn([3, 1, 28, 28], g);
        var w = Tensor.Randn([6, 1, 5, 5], g);
        var b = Tensor.Randn([6], g);
        using var _ = Tensor.NoGrad();
        var fused = Tensor.Conv2dReluMaxPool2d(x, w, b, 1, 2);
        var plain = Tensor.Conv2dRelu(x, w, b, (1, 1), (2, 2)).MaxPool2d(2);
        Assert.Equal([3, 6, 14, 14], fused.Shape);
        Assert.Equal(plain.ToArray(), fused.ToArray());
    }

    [Theory]
    [InlineData(16, 28)] // the exam CNN's first layer on Fashion-MNIST
    [InlineData(32, 28)] // cnn3's
    [InlineData(8, 9)]   // an odd map: the last row and column dropped by the pooling
    public void OneChannel3x3PoolsInRowsBitwiseTheThreeOps(int oc, int size)
    {
        // a one-channel 3x3 the direct 3x3 kernels would take runs here when pooled; the unpooled op stays on them
        var geometry = new Conv2dGeometry(1, size, size, 3, 3, 1, 1, 1, 1);
        Assert.Equal(Conv2dKernels.Path == Gemm.KernelPath.Vector512, Conv2dKernels.PoolsSingleChannelInRows(geometry));
        Assert.False(Conv2dKernels.PoolsSingleChannelInRows(new Conv2dGeometry(3, size, size, 3, 3, 1, 1, 1, 1)));
        var g = new Generator(7);
        var x = Tensor.Randn([5, 1, size, size], g);
        var w = Tensor.Randn([oc, 1, 3, 3], g);
        var b = Tensor.Randn([oc], g);
        using var _ = Tensor.NoGrad();
        bool before = SingleChannelConv3x3.Off;
        SingleChannelConv3x3.Off = true; // 16 and 32 filters run on the filters-in-lanes kernel otherwise
        try
        {
            var fused = Tensor.Conv2dReluMaxPool2d(x, w, b, 1, 1);
            var plain = Tensor.Conv2dRelu(x, w, b, 1, 1).MaxPool2d(2);
            Assert.Equal(plain.Shape, fused.Shape);
            Assert.Equal(plain.ToArray(), fused.ToArray());
        }
        finally
        {
            SingleChannelConv3x3.Off = before;
        }
    }

    [Fact]
    public void AppliesOnlyWhereItShould()
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
            Assert.True(DirectConvRows.Applies(new Conv2dGeometry(6, 14, 14, 5, 5, 1, 1, 0, 0), 1));
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(6, 14, 14, 5, 5, 2, 2, 0, 0), 1));  // stride 2
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(6, 14, 14, 5, 5, 1, 1, 0, 0), 2));  // groups
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(16, 14, 14, 1, 1, 1, 1, 0, 0), 1)); // 1x1: the GEMM reads the image itself
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(7, 14, 14, 5, 5, 1, 1, 0, 0), 1));  // C KH KW 175 > 160
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(1, 33, 33, 3, 3, 1, 1, 1, 1), 1));  // 33 wide
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
            Assert.True(DirectConvRows.Applies(new Conv2dGeometry(6, 14, 14, 5, 5, 1, 1, 0, 0), 1));
            Assert.True(DirectConvRows.Applies(new Conv2dGeometry(1, 60, 60, 5, 5, 1, 1, 2, 2), 1));   // any width on flat rows
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 1, 1), 1));  // 3x3: the 3x3 kernels'
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(7, 14, 14, 5, 5, 1, 1, 0, 0), 1));  // C KH KW 175 > 160
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(6, 14, 14, 5, 5, 2, 2, 0, 0), 1));  // stride 2
            Assert.Throws<ArgumentException>(() => DirectConvRows.Forward(new float[7 * 196], new float[16 * 175], null, new float[16 * 100], 1, 16,
                new Conv2dGeometry(7, 14, 14, 5, 5, 1, 1, 0, 0), relu: false));
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Scalar;
            Assert.False(DirectConvRows.Applies(new Conv2dGeometry(6, 14, 14, 5, 5, 1, 1, 0, 0), 1));  // vector paths only
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }
}

/// <summary>The one-channel filters-in-lanes kernel against the three ops it stands in for.</summary>
public sealed class SingleChannelConv3x3Tests
{
    [Theory]
    [InlineData(16, 28, 28, true, false, 2)]  // the exam CNN's first layer on Fashion-MNIST
    [InlineData(32, 28, 28, true, true, 2)]   // cnn3's, with the next batch norm's affine map
    [InlineData(16, 9, 11, true, true, 1)]    // odd: the last row and column dropped, an odd window count (one window alone)
    [InlineData(32, 9, 11, false, false, 3)]  // no bias, three threads
    [InlineData(16, 2, 3, true, false, 2)]    // the smallest: one window
    [InlineData(16, 40, 36, true, true, 2)]   // wider than the row kernel takes (32)
    public void PoolsBitwiseTheThreeOps(int oc, int h, int w, bool bias, bool affine, int threads)
    {
        var geometry = new Conv2dGeometry(1, h, w, 3, 3, 1, 1, 1, 1);
        bool avx512 = Conv2dKernels.Path == Gemm.KernelPath.Vector512;
        Assert.Equal(avx512, SingleChannelConv3x3.Applies(geometry, oc));
        Assert.Equal(avx512 || DirectConvRows.Applies(geometry, 1) || Conv2dKernels.UsesDirect3x3(geometry, oc, 1), Conv2dKernels.FusesReluMaxPool(geometry, oc, 1));
        var g = new Generator((ulong)(oc + h + w));
        var x = Tensor.Randn([5, 1, h, w], g);
        var wt = Tensor.Randn([oc, 1, 3, 3], g);
        var b = bias ? Tensor.Randn([oc], g) : null;
        (Tensor, Tensor)? map = affine ? (Tensor.Randn([oc], g), Tensor.Randn([oc], g)) : null;
        using var _ = Tensor.NoGrad();
        Tensor fused;
        using (Parallelism.UseThreads(threads)) fused = Tensor.Conv2dReluMaxPool2d(x, wt, b, 1, 1, map);
        var plain = Tensor.Conv2dRelu(x, wt, b, 1, 1).MaxPool2d(2);
        if (map is var (scale, shift)) plain = plain.Mul(scale.Reshape([oc, 1, 1])).Add(shift.Reshape([oc, 1, 1]));
        Assert.Equal(plain.Shape, fused.Shape);
        Assert.Equal(plain.ToArray(), fused.ToArray());
    }

    [Theory]
    [InlineData(16, 28, 28, true, 2)]   // the exam CNN's first layer in a training step on Fashion-MNIST
    [InlineData(32, 28, 28, true, 3)]   // cnn3's
    [InlineData(16, 9, 11, false, 1)]   // odd sizes, an odd window count
    [InlineData(32, 7, 6, true, 2)]
    public void TrainingFormPoolsWithPositionsBitwiseConvThenMaxPool(int oc, int h, int w, bool bias, int threads)
    {
        // values, the maxima's positions (through the weight and bias gradients) and the tie and NaN rules of MaxPool2d
        var g = new Generator((ulong)(7 * oc + h));
        var xv = Tensor.Randn([4, 1, h, w], g).ToArray();
        for (int i = 0; i < 2 * w; i++) xv[w * h + i] = 0; // image 1's first two rows zero: windows of equal values (the bias alone at the border)
        xv[2 * h * w + 2 * w + 4] = float.NaN;             // a NaN in image 2: windows whose first output is a number take it
        Tensor X() => Tensor.FromArray(xv, 4, 1, h, w);
        (float[] Y, float[] Dw, float[]? Db) Run(bool fused)
        {
            var wt = Tensor.Randn([oc, 1, 3, 3], new Generator(3)).RequiresGrad_();
            var b = bias ? Tensor.Randn([oc], new Generator(4)).RequiresGrad_() : null;
            Tensor y;
            using (Parallelism.UseThreads(threads)) y = fused ? Tensor.Conv2dMaxPool2d(X(), wt, b, 1, 1) : Tensor.Conv2d(X(), wt, b, 1, 1).MaxPool2d(2);
            var dy = Tensor.Randn(y.Shape, new Generator(5));
            y.Mul(dy).Sum().Backward();
            return (y.ToArray(), wt.Grad!.ToArray(), b?.Grad!.ToArray());
        }
        var plain = Run(fused: false);
        var fusedRun = Run(fused: true);
        Assert.Equal(plain.Y, fusedRun.Y);
        Assert.Contains(fusedRun.Y, float.IsNaN);
        // the NaN reaches dw as in the unfused ops; compare the bits
        Assert.Equal(plain.Dw.Select(BitConverter.SingleToInt32Bits), fusedRun.Dw.Select(BitConverter.SingleToInt32Bits));
        if (bias) Assert.Equal(plain.Db!.Select(BitConverter.SingleToInt32Bits), fusedRun.Db!.Select(BitConverter.SingleToInt32Bits));
    }

    [Theory]
    [InlineData(1, 8, 64)]   // one channel, a filter count the one-channel kernel does not take, rows too wide for the row kernel
    [InlineData(1, 48, 64)]
    [InlineData(3, 16, 32)]  // the exam CNN's first layer at 3x32x32 (the direct row kernel)
    [InlineData(16, 16, 16)] // its second
    public void EveryPooledKernelAppliesTheAffineMapAsAProductThenASum(int c, int oc, int size)
    {
        // bitwise the unfused Mul and Add (a fused multiply-add rounds once and differs in the last bit)
        var g = new Generator((ulong)(c * oc + size));
        var x = Tensor.Randn([2, c, size, size], g);
        var w = Tensor.Randn([oc, c, 3, 3], g);
        var b = Tensor.Randn([oc], g);
        var scale = Tensor.Randn([oc], g);
        var shift = Tensor.Randn([oc], g);
        using var _ = Tensor.NoGrad();
        var fused = Tensor.Conv2dReluMaxPool2d(x, w, b, 1, 1, (scale, shift));
        var plain = Tensor.Conv2dRelu(x, w, b, 1, 1).MaxPool2d(2).Mul(scale.Reshape([oc, 1, 1])).Add(shift.Reshape([oc, 1, 1]));
        Assert.Equal(plain.ToArray(), fused.ToArray());
    }

    [Fact]
    public void AppliesOnlyToOneChannel3x3WithPaddingOneAnd16Or32Filters()
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
            Assert.True(SingleChannelConv3x3.Applies(new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 1, 1), 32));
            Assert.False(SingleChannelConv3x3.Applies(new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 1, 1), 8));  // 8 filters: half a register
            Assert.False(SingleChannelConv3x3.Applies(new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 1, 1), 64)); // 64: the weights would not fit the registers
            Assert.False(SingleChannelConv3x3.Applies(new Conv2dGeometry(3, 28, 28, 3, 3, 1, 1, 1, 1), 16)); // three channels
            Assert.False(SingleChannelConv3x3.Applies(new Conv2dGeometry(1, 28, 28, 3, 3, 2, 2, 1, 1), 16)); // stride 2
            Assert.False(SingleChannelConv3x3.Applies(new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 0, 0), 16)); // no padding
            Assert.False(SingleChannelConv3x3.Applies(new Conv2dGeometry(1, 28, 28, 5, 5, 1, 1, 2, 2), 16)); // 5x5
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
            Assert.False(SingleChannelConv3x3.Applies(new Conv2dGeometry(1, 28, 28, 3, 3, 1, 1, 1, 1), 16));
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }
}
