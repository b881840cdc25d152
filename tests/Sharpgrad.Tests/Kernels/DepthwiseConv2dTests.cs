using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>
/// The direct depthwise kernels and the 1x1 path against <see cref="Conv2dReference"/>: every vector width (forced),
/// one and two threads, float64 and float32, odd sizes, strides and paddings.
/// </summary>
public sealed class DepthwiseConv2dTests
{
    public static TheoryData<string> Paths => new() { "Vector512", "Vector256", "Scalar" };

    // (n, c, h, w, kh, kw, sh, sw, ph, pw)
    private static readonly int[][] Depthwise =
    [
        [2, 3, 28, 28, 3, 3, 1, 1, 1, 1],  // mobilenet's first block
        [2, 4, 14, 14, 3, 3, 2, 2, 1, 1],  // its stride-2 blocks
        [1, 5, 7, 7, 3, 3, 1, 1, 1, 1],
        [3, 2, 9, 11, 3, 3, 2, 2, 1, 1],   // odd sizes, stride 2
        [2, 3, 13, 17, 3, 3, 1, 1, 0, 0],  // no padding
        [2, 2, 10, 9, 5, 5, 2, 2, 2, 2],
        [1, 3, 8, 19, 3, 5, 2, 1, 2, 0],   // 3x5 kernel, (2,1) stride, (2,0) padding
        [2, 2, 11, 12, 3, 3, 3, 3, 2, 2],  // stride 3, padding 2
        [1, 4, 6, 5, 1, 1, 1, 1, 0, 0],    // 1x1
        [2, 2, 5, 37, 2, 4, 1, 3, 1, 3],   // wide row, even kernel
        [1, 1, 3, 3, 3, 3, 1, 1, 1, 1],    // one channel, smaller than one vector
        [2, 3, 6, 35, 3, 3, 2, 2, 1, 1],   // stride 2, a row of two 16-column shuffle steps and a 3-column tail
        [1, 2, 4, 77, 3, 3, 2, 2, 1, 1],   // stride 2, two 32-column steps on 512-bit registers and a 13-column tail
        [1, 2, 3, 32, 3, 3, 2, 2, 0, 0],   // stride 2, exactly one 32-column step
        [1, 2, 5, 20, 3, 3, 2, 2, 0, 0],   // stride 2 without padding: even columns to phase 0
        [1, 2, 7, 18, 5, 5, 2, 2, 2, 2],   // stride 2, padding 2
        [2, 3, 5, 4, 3, 3, 1, 1, 1, 1],    // whole padded planes (ForwardWide) on 256-bit registers too: 4 columns
        [2, 2, 8, 8, 3, 3, 1, 1, 1, 1],    // 8 columns: exactly half a 512-bit register
        [1, 2, 6, 3, 3, 3, 1, 1, 0, 2],    // different row and column padding on whole planes
        [2, 32, 14, 14, 3, 3, 2, 2, 1, 1], // 16 channels a register on 512 bits (ForwardChannels): mobilenet's 14 -> 7
        [3, 16, 7, 7, 3, 3, 1, 1, 1, 1],   // its 7 -> 7
        [1, 48, 9, 13, 3, 3, 2, 2, 1, 1],  // odd sizes, three channel blocks
    ];

    [Theory]
    [MemberData(nameof(Paths))]
    public void DepthwiseEqualsReference(string path)
    {
        foreach (var s in Depthwise)
            foreach (int threads in new[] { 1, 2 })
            {
                var g = new Conv2dGeometry(s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]);
                Check(path, threads, s[0], g.C, g, g.C, g.C, 1e-10, 1e-4);
            }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void PointwiseEqualsReference(string path)
    {
        // 1x1 stride 1 without im2col (groups 1 and 2), and the stride-2 shortcut through im2col
        Check(path, 2, 3, 5, new Conv2dGeometry(5, 7, 9, 1, 1, 1, 1, 0, 0), 6, 1, 1e-10, 1e-4);
        Check(path, 1, 2, 16, new Conv2dGeometry(16, 14, 14, 1, 1, 1, 1, 0, 0), 32, 2, 1e-10, 1e-4);
        Check(path, 2, 2, 4, new Conv2dGeometry(4, 9, 9, 1, 1, 2, 2, 0, 0), 8, 1, 1e-10, 1e-4);
    }

    [Fact]
    public void DepthwiseGradientIsTheSameForAnyThreadCount()
    {
        var g = new Conv2dGeometry(6, 9, 9, 3, 3, 2, 2, 1, 1);
        var gen = new Generator(5);
        int n = 5;
        var x = Normal(gen, n * g.C * g.H * g.W);
        var w = Normal(gen, g.C * 9);
        var dy = Normal(gen, n * g.C * g.L);
        float[] Dw(int threads)
        {
            using var _ = Parallelism.UseThreads(threads);
            var dw = new float[w.Length];
            DepthwiseConv2d.Backward(dy, x, w, null, dw, null, n, g);
            return dw;
        }
        Assert.Equal(Dw(1), Dw(2));
        Assert.Equal(Dw(1), Dw(3));
    }

    [Fact]
    public void RandomGeometriesWriteNothingPastTheirOutputs()
    {
        // the 512-bit paths store through refs, masked stores and permuted blocks: 40 seeded geometries, each output
        // array longer than its tensor with a NaN-free sentinel tail that must come back untouched, and every output
        // value equal to the reference
        var rnd = new Random(20261201);
        var before = Conv2dKernels.ForcedPath;
        Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
        try
        {
            for (int trial = 0; trial < 40; trial++)
            {
                int k = rnd.Next(2) == 0 ? 3 : rnd.Next(1, 6), stride = rnd.Next(1, 3), pad = rnd.Next(0, Math.Min(k, 3));
                int h = rnd.Next(Math.Max(1, k - 2 * pad), 40), w = rnd.Next(Math.Max(1, k - 2 * pad), 70), c = rnd.Next(1, 6), n = rnd.Next(1, 4);
                var g = new Conv2dGeometry(c, h, w, k, k, stride, stride, pad, pad);
                if (g.OH < 1 || g.OW < 1) continue;
                const int Tail = 37;
                const float Sentinel = 12345.5f;
                var gen = new Generator((ulong)trial);
                var x = Normal(gen, n * c * h * w);
                var wt = Normal(gen, c * k * k);
                var b = Normal(gen, c);
                var dy = Normal(gen, n * c * g.L);
                var y = Enumerable.Repeat(Sentinel, n * c * g.L + Tail).ToArray();
                var dx = Enumerable.Repeat(Sentinel, x.Length + Tail).ToArray();
                var dw = Enumerable.Repeat(Sentinel, wt.Length + Tail).ToArray();
                var db = Enumerable.Repeat(Sentinel, c + Tail).ToArray();
                DepthwiseConv2d.Forward(x, wt, b, y, n, g, relu: rnd.Next(2) == 0);
                DepthwiseConv2d.Backward(dy, x, wt, dx, dw, db, n, g);
                string what = $"trial {trial}: n {n} {g}";
                Assert.All(y[(n * c * g.L)..], v => Assert.Equal(Sentinel, v));
                Assert.All(dx[x.Length..], v => Assert.Equal(Sentinel, v));
                Assert.All(dw[wt.Length..], v => Assert.Equal(Sentinel, v));
                Assert.All(db[c..], v => Assert.Equal(Sentinel, v));
                double[] D(float[] a, int len) => [.. a.Take(len).Select(v => (double)v)];
                var (rdx, _, _) = Conv2dReference.Backward(D(dy, dy.Length), D(x, x.Length), D(wt, wt.Length), n, c, g, c);
                Close(rdx, D(dx, x.Length), 1e-4, "dx " + what);
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    // the 16-channels-a-register forward (512-bit, narrow maps) computes each output as the plane path does (bias, then
    // the nine taps by multiply-add in order, then the ReLU): bitwise the same as the 256-bit plane path, with NaN,
    // infinities and negative zeros among the inputs, and nothing written past the output
    [Theory]
    [InlineData(2, 16, 7, 7, 1)]
    [InlineData(1, 32, 14, 14, 2)]
    [InlineData(3, 64, 14, 14, 2)]
    [InlineData(2, 128, 7, 7, 1)]
    [InlineData(1, 16, 5, 11, 1)]
    [InlineData(2, 32, 13, 9, 2)]
    [InlineData(1, 16, 1, 1, 1)]
    [InlineData(1, 16, 2, 30, 2)]
    public void ChannelBlockedForwardIsBitwiseThePlanePath(int n, int c, int h, int w, int stride)
    {
        var g = new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1);
        var before = Conv2dKernels.ForcedPath;
        try
        {
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
            Assert.True(DepthwiseConv2d.UsesChannels(g));
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
            Assert.True(DepthwiseConv2d.UsesChannels(g)); // AVX2: two 8-channel passes over the 16-channel block
            DepthwiseConv2d.ChannelsAvx2Off = true;
            Assert.False(DepthwiseConv2d.UsesChannels(g));
            DepthwiseConv2d.ChannelsAvx2Off = false;
            AssertChannelsEqualPlanes(n, c, h, w, stride, [Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256]);
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Theory]
    [InlineData(2, 16, 28, 28, 1)]   // mobilenet's first depthwise layer
    [InlineData(1, 32, 9, 31, 1)]
    [InlineData(2, 16, 40, 62, 2)]   // 31 columns out
    [InlineData(1, 16, 3, 16, 1)]
    public void Avx2RunsChannelBlocksOnRowsUpTo31Wide(int n, int c, int h, int w, int stride)
    {
        // AVX2 holds 8 of a 28-wide row's pixels a register, so its channel blocks take rows up to 31 wide; AVX-512's
        // stop at 15 (a 16-lane row register)
        var g = new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1);
        var before = Conv2dKernels.ForcedPath;
        try
        {
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
            Assert.False(DepthwiseConv2d.UsesChannels(g));
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
            Assert.True(DepthwiseConv2d.UsesChannels(g));
            Assert.False(DepthwiseConv2d.UsesChannels(new Conv2dGeometry(c, h, 2 * 16 * stride, 3, 3, stride, stride, 1, 1))); // 32 wide
            AssertChannelsEqualPlanes(n, c, h, w, stride, [Gemm.KernelPath.Vector256]);
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    // the channel blocks on each path against the AVX2 plane path (the oracle), bitwise, with and without ReLU and bias,
    // on one and two threads, nothing written past the output
    private static void AssertChannelsEqualPlanes(int n, int c, int h, int w, int stride, Gemm.KernelPath[] paths)
    {
        var g = new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1);
        var gen = new Generator((ulong)(c * 31 + h * 7 + w + stride));
        var x = Normal(gen, n * c * h * w);
        x[1] = float.NaN; x[5] = float.PositiveInfinity; x[9] = -0f; x[^1] = float.NegativeInfinity;
        var wt = Normal(gen, c * 9);
        var b = Normal(gen, c);
        foreach (bool relu in new[] { false, true })
            foreach (var bias in new[] { b, null })
                foreach (int threads in new[] { 1, 2 })
                {
                    using var _ = Parallelism.UseThreads(threads);
                    const int Tail = 19;
                    const float Sentinel = 777.25f;
                    var plane = new float[n * c * g.L];
                    Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
                    DepthwiseConv2d.ChannelsAvx2Off = true; // the plane path, the oracle
                    try
                    {
                        DepthwiseConv2d.Forward(x, wt, bias, plane, n, g, relu);
                    }
                    finally
                    {
                        DepthwiseConv2d.ChannelsAvx2Off = false;
                    }
                    foreach (var path in paths)
                    {
                        var channels = Enumerable.Repeat(Sentinel, n * c * g.L + Tail).ToArray();
                        Conv2dKernels.ForcedPath = path;
                        DepthwiseConv2d.Forward(x, wt, bias, channels, n, g, relu);
                        string what = $"{path}: n {n} {g}, relu {relu}, bias {bias is not null}, {threads} threads";
                        Assert.True(plane.AsSpan().SequenceEqual(channels.AsSpan(0, plane.Length)), what);
                        Assert.All(channels[plane.Length..], v => Assert.Equal(Sentinel, v));
                    }
                }
    }

    private static float[] Normal(Generator gen, int count) => [.. Enumerable.Range(0, count).Select(_ => (float)gen.NextNormal())];

    private static void Check(string path, int threads, int n, int c, Conv2dGeometry g, int oc, int groups, double tol64, double tol32)
    {
        var before = Conv2dKernels.ForcedPath;
        Conv2dKernels.ForcedPath = Enum.Parse<Gemm.KernelPath>(path);
        try
        {
            using var _ = Parallelism.UseThreads(threads);
            var gen = new Generator((ulong)(n * 7919 + c * 104729 + g.H * 31 + g.W + g.KW * 1009 + g.SH * 13));
            var x = Enumerable.Range(0, n * c * g.H * g.W).Select(_ => gen.NextNormal()).ToArray();
            var w = Enumerable.Range(0, oc * c / groups * g.KH * g.KW).Select(_ => gen.NextNormal()).ToArray();
            var b = Enumerable.Range(0, oc).Select(_ => gen.NextNormal()).ToArray();
            var dy = Enumerable.Range(0, n * oc * g.L).Select(_ => gen.NextNormal()).ToArray();
            string what = $"{path}, {threads} threads, n {n} {g}, OC {oc}, groups {groups}";
            var ry = Conv2dReference.Forward(x, w, b, n, oc, g, groups);
            var (rdx, rdw, rdb) = Conv2dReference.Backward(dy, x, w, n, oc, g, groups);

            var y = new double[ry.Length];
            Conv2dKernels.Forward(x, w, b, y, n, oc, g, groups);
            Close(ry, y, tol64, "y " + what);
            var yr = new double[ry.Length]; // the fused ReLU: each value clamped as its plane is stored
            Conv2dKernels.Forward(x, w, b, yr, n, oc, g, groups, relu: true);
            Close([.. ry.Select(v => Math.Max(v, 0))], yr, tol64, "relu y " + what);
            double[] dx = new double[x.Length], dw = new double[w.Length], db = new double[oc];
            Array.Fill(dx, double.NaN); // every element must be written
            Conv2dKernels.Backward(dy, x, w, dx, dw, db, n, oc, g, groups);
            Close(rdx, dx, tol64, "dx " + what);
            Close(rdw, dw, tol64, "dw " + what);
            Close(rdb, db, tol64, "db " + what);

            float[] F(double[] a) => [.. a.Select(v => (float)v)];
            var yf = new float[ry.Length];
            Conv2dKernels.Forward(F(x), F(w), F(b), yf, n, oc, g, groups);
            Close(ry, [.. yf.Select(v => (double)v)], tol32, "float y " + what);
            float[] dxf = new float[x.Length], dwf = new float[w.Length];
            Conv2dKernels.Backward(F(dy), F(x), F(w), dxf, dwf, null, n, oc, g, groups);
            Close(rdx, [.. dxf.Select(v => (double)v)], tol32, "float dx " + what);
            Close(rdw, [.. dwf.Select(v => (double)v)], tol32 * 10, "float dw " + what);
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    private static void Close(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1 + expected.Select(Math.Abs).DefaultIfEmpty(0).Max();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * scale, $"{what}: element {i}: {expected[i]} vs {actual[i]}");
    }
}

public sealed class DepthwiseChannelsBackwardTests
{
    [Theory]
    [InlineData(20, 16, 28, 28, 1)] // mobilenet's first depthwise layer; 20 images: two runs of 16
    [InlineData(3, 32, 28, 28, 2)]  // its 28 -> 14
    [InlineData(17, 64, 14, 14, 2)] // 14 -> 7
    [InlineData(2, 128, 7, 7, 1)]   // 7 -> 7
    [InlineData(5, 48, 9, 13, 2)]   // odd sizes, three blocks
    [InlineData(1, 16, 1, 1, 1)]    // one pixel
    [InlineData(2, 16, 32, 32, 2)]  // 1,024 pixels, the largest plane taken
    public void EqualsTheReferenceForAnyThreadCountAndWritesNothingPastTheGradients(int n, int c, int h, int w, int stride)
    {
        // 512-bit registers, and AVX2's two 8-channel passes a block
        foreach (var path in new[] { Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256 })
            EqualsTheReferenceOn(path, n, c, h, w, stride);
    }

    private static void EqualsTheReferenceOn(Gemm.KernelPath path, int n, int c, int h, int w, int stride)
    {
        var before = Conv2dKernels.ForcedPath;
        Conv2dKernels.ForcedPath = path;
        try
        {
            var g = new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1);
            Assert.True(DepthwiseConv2d.UsesChannelsBackward(g));
            var rnd = new Random(n * 1000 + c + h);
            float[] R(int len) => [.. Enumerable.Range(0, len).Select(_ => (float)(rnd.NextDouble() * 2 - 1))];
            float[] x = R(n * c * h * w), wt = R(c * 9), dy = R(n * c * g.L);
            var (rdx, rdw, rdb) = Conv2dReference.Backward([.. dy.Select(v => (double)v)], [.. x.Select(v => (double)v)], [.. wt.Select(v => (double)v)], n, c, g, c);
            const float Sentinel = -4321.25f;
            float[]? first = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                using var _ = Parallelism.UseThreads(threads);
                float[] dx = Enumerable.Repeat(Sentinel, x.Length + 7).ToArray(), dw = Enumerable.Repeat(Sentinel, wt.Length + 7).ToArray(), db = Enumerable.Repeat(Sentinel, c + 7).ToArray();
                DepthwiseConv2d.Backward(dy, x, wt, dx, dw, db, n, g);
                foreach (var (got, want, name) in new[] { (dx, rdx, "dx"), (dw, rdw, "dw"), (db, rdb, "db") })
                {
                    for (int i = 0; i < want.Length; i++)
                        Assert.True(Math.Abs(want[i] - got[i]) <= 1e-4 * (1 + Math.Abs(want[i])), $"{path}, {threads} threads {name}[{i}]: {got[i]} vs {want[i]}");
                    Assert.All(got[want.Length..], v => Assert.Equal(Sentinel, v));
                }
                float[] all = [.. dx, .. dw, .. db];
                if (first is null) first = all;
                else Assert.Equal(first, all);
                // each gradient alone is the same as with the others
                var dwOnly = new float[wt.Length];
                DepthwiseConv2d.Backward(dy, x, wt, null, dwOnly, null, n, g);
                Assert.Equal(dw[..wt.Length], dwOnly);
                var dxOnly = new float[x.Length];
                DepthwiseConv2d.Backward(dy, x, wt, dxOnly, null, null, n, g);
                Assert.Equal(dx[..x.Length], dxOnly);
            }
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }

    [Fact]
    public void TakesSixteenChannelBlocksOf3x3KernelsOnAvx2AndAvx512()
    {
        var before = Conv2dKernels.ForcedPath;
        try
        {
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector512;
            Assert.False(DepthwiseConv2d.UsesChannelsBackward(new Conv2dGeometry(24, 14, 14, 3, 3, 1, 1, 1, 1)));  // not 16k channels
            Assert.False(DepthwiseConv2d.UsesChannelsBackward(new Conv2dGeometry(16, 14, 14, 5, 5, 1, 1, 2, 2)));  // 5x5
            Assert.False(DepthwiseConv2d.UsesChannelsBackward(new Conv2dGeometry(16, 33, 32, 3, 3, 1, 1, 1, 1)));  // over 1,024 pixels
            Assert.False(DepthwiseConv2d.UsesChannelsBackward(new Conv2dGeometry(16, 14, 14, 3, 3, 3, 3, 1, 1)));  // stride 3
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Vector256;
            Assert.True(DepthwiseConv2d.UsesChannelsBackward(new Conv2dGeometry(16, 14, 14, 3, 3, 1, 1, 1, 1)));
            Assert.False(DepthwiseConv2d.UsesChannelsBackward(new Conv2dGeometry(24, 14, 14, 3, 3, 1, 1, 1, 1)));
            Conv2dKernels.ForcedPath = Gemm.KernelPath.Scalar;
            Assert.False(DepthwiseConv2d.UsesChannelsBackward(new Conv2dGeometry(16, 14, 14, 3, 3, 1, 1, 1, 1)));
        }
        finally
        {
            Conv2dKernels.ForcedPath = before;
        }
    }
}
