using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>Geometry of a 2-D convolution or pooling window.</summary>
internal readonly record struct Conv2dGeometry(int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW)
{
    // inlined even where a large kernel has used up the JIT's inlining budget (they were calls, each a division, in
    // the depthwise kernel's loop conditions); hot loops still read them into locals once
    public int OH { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (H + 2 * PH - KH) / SH + 1; }
    public int OW { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (W + 2 * PW - KW) / SW + 1; }
    public int L { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => OH * OW; }
    public int Ckk { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => C * KH * KW; }
}

/// <summary>
/// Convolution: chooses the algorithm for a shape. float32 3x3 padding-1 convolutions with 8k filters, stride 1 or
/// 2, run <see cref="DirectConv3x3"/> or, on narrow maps with 32k filters, <see cref="ChannelConv3x3"/> (their input
/// gradient too for stride 1; <see cref="ChannelConv3x3"/> also the stride-2 input gradient with 16k input channels); depthwise convolutions (groups = C = OC)
/// run the direct kernels of <see cref="DepthwiseConv2d"/>; 1x1 unpadded ones on AVX-512 run <see cref="PointwiseConv"/>
/// (over pixels with 8k filters on planes of 64 pixels or more; over filters with 32k filters on smaller planes and at
/// stride 2 on rows of 7k pixels), the other stride-1 ones multiply the image itself
/// (C, H W) by the weights, without im2col; everything else runs im2col + <see cref="Gemm"/> per (image, group),
/// split over the batch.
/// </summary>
internal static partial class Conv2dKernels
{
    [ThreadStatic] private static Gemm.KernelPath t_forcedPath;

    /// <summary>Which vector width the direct kernels use on this thread; tests force each one in turn (Auto: the widest accelerated).</summary>
    internal static Gemm.KernelPath ForcedPath { get => t_forcedPath; set => t_forcedPath = value; }

    internal static Gemm.KernelPath Path => t_forcedPath != Gemm.KernelPath.Auto ? t_forcedPath
        : Vector512.IsHardwareAccelerated ? Gemm.KernelPath.Vector512
        : Vector256.IsHardwareAccelerated ? Gemm.KernelPath.Vector256
        : Gemm.KernelPath.Scalar;

    /// <summary>Whether a group's image slice is its own im2col matrix: 1x1 kernel, stride 1, no padding.</summary>
    private static bool IsPointwise(in Conv2dGeometry g) => g is { KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0 };

    // x: (C,H,W) -> col: (C*KH*KW, OH*OW), zero where the window reads padding
    public static void Im2Col<T>(ReadOnlySpan<T> x, in Conv2dGeometry g, Span<T> col) where T : unmanaged, IFloatingPointIeee754<T> => Im2Col(x, g, col, g.L);

    // x: (C,H,W) -> col: (C*KH*KW, OH*OW) with rows ld apart (ld >= OH*OW: several images' columns side by side)
    public static void Im2Col<T>(ReadOnlySpan<T> x, in Conv2dGeometry g, Span<T> col, int ld) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OH, ow = g.OW, l = g.L;
        if (g.SH == 1 && g.SW == 1 && Vector256.IsHardwareAccelerated)
        {
            Im2ColStride1(x, g, col, ld);
            return;
        }
        for (int c = 0; c < g.C; c++)
        for (int kh = 0; kh < g.KH; kh++)
        for (int kw = 0; kw < g.KW; kw++)
        {
            var row = col.Slice(((c * g.KH + kh) * g.KW + kw) * ld, l);
            for (int i = 0; i < oh; i++)
            {
                int h = i * g.SH - g.PH + kh;
                var dst = row.Slice(i * ow, ow);
                if ((uint)h >= (uint)g.H)
                {
                    dst.Clear();
                    continue;
                }
                var src = x.Slice((c * g.H + h) * g.W, g.W);
                if (g.SW == 1)
                {
                    // contiguous run: w = j - PW + kw for j in [0, ow)
                    int j0 = Math.Max(0, g.PW - kw), j1 = Math.Min(ow, g.W + g.PW - kw);
                    if (j0 > 0) dst[..Math.Min(j0, ow)].Clear();
                    if (j1 > j0) CopyRun(src.Slice(j0 - g.PW + kw, j1 - j0), dst[j0..j1]);
                    if (j1 < ow) dst[Math.Max(j1, 0)..].Clear();
                }
                else
                {
                    for (int j = 0; j < ow; j++)
                    {
                        int w = j * g.SW - g.PW + kw;
                        dst[j] = (uint)w < (uint)g.W ? src[w] : T.Zero;
                    }
                }
            }
        }
    }

    // Im2Col for stride 1: per (c, kh, kw) the rows of padding are one cleared block above and one below, and each
    // valid row is [j0 zeros][a run of the input row][zeros]; bounds checked once, then pointers (per-row spans cost
    // more than a 10-element copy)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Im2ColStride1<T>(ReadOnlySpan<T> x, in Conv2dGeometry g, Span<T> col, int ld) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int oh = g.OH, ow = g.OW, l = g.L, v = Vector256<T>.Count;
        if (x.Length < g.C * g.H * g.W || ld < l || col.Length < (long)(g.Ckk - 1) * ld + l)
            throw new ArgumentException($"Im2Col: x holds {x.Length} of {g.C * g.H * g.W} elements, col {col.Length} of {(long)(g.Ckk - 1) * ld + l} (rows {ld} apart).");
        fixed (T* xp = x)
        fixed (T* cp = col)
        {
            for (int c = 0; c < g.C; c++)
            for (int kh = 0; kh < g.KH; kh++)
            {
                // rows i with h = i - PH + kh inside the image
                int i0 = Math.Clamp(g.PH - kh, 0, oh), i1 = Math.Clamp(g.H + g.PH - kh, i0, oh);
                for (int kw = 0; kw < g.KW; kw++)
                {
                    T* row = cp + (long)((c * g.KH + kh) * g.KW + kw) * ld;
                    int j0 = Math.Clamp(g.PW - kw, 0, ow), j1 = Math.Clamp(g.W + g.PW - kw, j0, ow), run = j1 - j0;
                    new Span<T>(row, i0 * ow).Clear();
                    new Span<T>(row + i1 * ow, (oh - i1) * ow).Clear();
                    for (int i = i0; i < i1; i++)
                    {
                        T* dst = row + i * ow;
                        T* src = xp + (long)(c * g.H + i - g.PH + kh) * g.W + (j0 - g.PW + kw);
                        for (int j = 0; j < j0; j++) dst[j] = T.Zero;
                        T* d = dst + j0;
                        if (run >= v)
                        {
                            for (int q = 0; q < run - v; q += v) Vector256.Store(Vector256.Load(src + q), d + q);
                            Vector256.Store(Vector256.Load(src + run - v), d + run - v);
                        }
                        else
                        {
                            for (int q = 0; q < run; q++) d[q] = src[q];
                        }
                        for (int j = j1; j < ow; j++) dst[j] = T.Zero;
                    }
                }
            }
        }
    }

    // dst = src for the short runs of im2col (a 10-wide row: a call to Span.CopyTo cost more than the copy): whole
    // vectors, the last one overlapping the one before
    private static void CopyRun<T>(ReadOnlySpan<T> src, Span<T> dst) where T : unmanaged
    {
        int n = src.Length, v = Vector256<T>.Count;
        if (n < v || !Vector256.IsHardwareAccelerated || dst.Length < n)
        {
            src.CopyTo(dst);
            return;
        }
        ref T s = ref MemoryMarshal.GetReference(src);
        ref T d = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; i < n - v; i += v) Vector256.LoadUnsafe(ref s, (nuint)i).StoreUnsafe(ref d, (nuint)i);
        Vector256.LoadUnsafe(ref s, (nuint)(n - v)).StoreUnsafe(ref d, (nuint)(n - v));
    }

    // dst += src for the short runs of col2im: whole vectors, then element by element
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddRun<T>(ReadOnlySpan<T> src, Span<T> dst) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = src.Length, v = Vector256<T>.Count, i = 0;
        if (dst.Length < n) throw new ArgumentException("AddRun: destination shorter than source.", nameof(dst));
        ref T s = ref MemoryMarshal.GetReference(src);
        ref T d = ref MemoryMarshal.GetReference(dst);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - v; i += v)
                (Vector256.LoadUnsafe(ref d, (nuint)i) + Vector256.LoadUnsafe(ref s, (nuint)i)).StoreUnsafe(ref d, (nuint)i);
        for (; i < n; i++) dst[i] += src[i];
    }

    // col: (C*KH*KW, OH*OW) -> dx: (C,H,W), accumulating overlapping windows
    public static void Col2Im<T>(ReadOnlySpan<T> col, in Conv2dGeometry g, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T> => Col2Im(col, g, dx, g.L);

    // col: (C*KH*KW, OH*OW) with rows ld apart -> dx: (C,H,W), accumulating overlapping windows
    public static void Col2Im<T>(ReadOnlySpan<T> col, in Conv2dGeometry g, Span<T> dx, int ld) where T : unmanaged, IFloatingPointIeee754<T>
    {
        dx.Clear();
        int oh = g.OH, ow = g.OW, l = g.L;
        for (int c = 0; c < g.C; c++)
        for (int kh = 0; kh < g.KH; kh++)
        for (int kw = 0; kw < g.KW; kw++)
        {
            var row = col.Slice(((c * g.KH + kh) * g.KW + kw) * ld, l);
            for (int i = 0; i < oh; i++)
            {
                int h = i * g.SH - g.PH + kh;
                if ((uint)h >= (uint)g.H) continue;
                var dst = dx.Slice((c * g.H + h) * g.W, g.W);
                var src = row.Slice(i * ow, ow);
                if (g.SW == 1)
                {
                    // contiguous run: w = j - PW + kw for j in [j0, j1)
                    int j0 = Math.Max(0, g.PW - kw), j1 = Math.Min(ow, g.W + g.PW - kw);
                    if (j1 > j0) AddRun(src[j0..j1], dst.Slice(j0 - g.PW + kw, j1 - j0));
                    continue;
                }
                for (int j = 0; j < ow; j++)
                {
                    int w = j * g.SW - g.PW + kw;
                    if ((uint)w < (uint)g.W) dst[w] += src[j];
                }
            }
        }
    }

    /// <summary>
    /// Whether the direct 3x3 kernels (<see cref="DirectConv3x3"/>) run this float32 convolution with
    /// <paramref name="outChannels"/> outputs: ungrouped 3x3, stride 1 or 2, padding 1, 8k filters, vector registers.
    /// </summary>
    public static bool UsesDirect3x3(in Conv2dGeometry g, int outChannels, int groups) => groups == 1 && DirectConv3x3.Applies(g, outChannels);

    /// <summary>
    /// Whether <see cref="Forward{T}"/> reads float32 weights transposed to (C,KH,KW,OC), which a caller may keep between
    /// calls and pass in: the direct 3x3 kernels and the channel-vectorized 1x1 one (<see cref="PointwiseConv.UsesChannels"/>).
    /// </summary>
    public static bool UsesTransposedWeights(in Conv2dGeometry g, int outChannels, int groups) =>
        UsesDirect3x3(g, outChannels, groups) || PointwiseConv.UsesChannels(g, outChannels, groups);

    /// <summary>Whether AVX2 keeps the row kernels and im2col instead of <see cref="ChannelConv3x3"/> (forward, weight gradient, stride-2 input gradient): the benchmarks' switch, off otherwise.</summary>
    internal static bool Avx2ChannelOff;

    /// <summary>
    /// Whether a direct 3x3 convolution (<see cref="UsesDirect3x3"/>) runs <see cref="ChannelConv3x3"/> (vectorized over
    /// output channels, 7-pixel segments) rather than <see cref="DirectConv3x3"/> (over output columns, V-lane chunks):
    /// with AVX2, wherever it applies (8k filters); with AVX-512, 16k filters, and a row that fills its 7-pixel segments
    /// at least as well as its 16-lane chunks; where a single register of filters is left (16, 48, ...) at stride 2
    /// (Tile1, a broadcast per multiply-add), only if the chunks leave more than a quarter of the lanes idle.
    /// </summary>
    // AVX2 (a 2-core AMD EPYC without AVX-512, Predict at batch 256, alternating windows in one process): resnet8 1.44x,
    // the exam CNN 1.71x, cnn3 1.34x (least of each); the training step at batch 128 resnet8 1.20x, the exam CNN 1.30x
    // measured at batch 256 on 2 cores, 32k filters: 7-wide maps 64 -> 141 GFLOP/s, 14-wide 135 -> 158, 28-wide 103 ->
    // 125, but 16-wide (3 segments for 16 pixels) 139 -> 127; 16 filters at 28-wide, stride 1 (input-stationary tiles):
    // 8.7 -> 5.8 ms and 5.0 -> 4.0 ms in two alternating runs (Tile1 there was no faster than the row kernel)
    public static bool UsesChannelConv3x3(in Conv2dGeometry g, int outChannels)
    {
        if (Path == Gemm.KernelPath.Vector256 && !Avx2ChannelOff && ChannelConv3x3.Applies(g, outChannels)) return true;
        if (Path != Gemm.KernelPath.Vector512 || !ChannelConv3x3.Applies(g, outChannels)) return false;
        int ow = g.OW, v = Vector512<float>.Count, seg = ChannelConv3x3.Segment;
        int segmentPixels = (ow + seg - 1) / seg * seg, chunkLanes = (ow + v - 1) / v * v;
        return segmentPixels <= chunkLanes && (outChannels % (2 * v) == 0 || g.SH == 1 || 4 * ow < 3 * chunkLanes);
    }

    /// <summary>
    /// Whether the weight gradient of a direct 3x3 convolution (<see cref="UsesDirect3x3"/>) runs
    /// <see cref="ChannelConv3x3.WeightGradient"/> (over output channels, a pixel at a time) rather than
    /// <see cref="DirectConv3x3.WeightGradient"/> (over output columns): with AVX-512 and 32k filters, whatever the
    /// width, or 16k filters from 4 input channels; with AVX2 (one register of 8 filters at a time) from 4 input
    /// channels.
    /// </summary>
    // measured at batch 128 on 2 cores: 7-wide maps 31 -> 140 GFLOP/s, 14-wide 68 -> 117, 28-wide 77 -> 116, 16-wide 76 -> 161
    // 16 filters (one register, 9 accumulators), measured on the 2-core AVX-512 EPYC, training steps alternating:
    // the exam CNN's second layer (16 -> 16) took its step at 1x28x28 b128 from 4.54-4.70 to 4.09-4.15 ms and at
    // 3x32x32 b64 from 2.99-3.06 to 2.67-2.85 ms; its first layer (1 or 3 channels) was slower this way (4.56-4.60
    // against 4.26-4.43 ms) and keeps the direct kernel (and its pooled backward); resnet20 moved within the noise.
    // AVX2 (the 2-core AMD EPYC without AVX-512, alternating windows in one process): the exam CNN's first layer on
    // the channel weight gradient made its training step 0.90x (3x32x32 b64) and 0.89x (1x28x28 b128), so from 4
    // input channels there too
    public static bool UsesChannelWeightGradient(in Conv2dGeometry g, int outChannels) =>
        Path == Gemm.KernelPath.Vector512 && ChannelConv3x3.AppliesWeightGradient(g, outChannels)
        && (outChannels % (2 * Vector512<float>.Count) == 0 || g.C >= 4)
        || Path == Gemm.KernelPath.Vector256 && !Avx2ChannelOff && ChannelConv3x3.AppliesWeightGradient(g, outChannels) && g.C >= 4;

    /// <summary>
    /// Whether the input gradient of a direct 3x3 stride-2 convolution (<see cref="UsesDirect3x3"/>) runs
    /// <see cref="ChannelConv3x3.InputGradientStride2"/> rather than im2col + GEMM + col2im: with AVX-512 and 16k input
    /// channels, or AVX2 and 8k (one register of channels by two segments a tile).
    /// </summary>
    // measured at batch 128 on 2 cores: resnet's 16 -> 32 at 28x28 5.6 -> 2.4 ms, 32 -> 64 at 14x14 5.0 -> 2.0 ms
    public static bool UsesChannelInputGradientStride2(in Conv2dGeometry g, int outChannels, int groups) =>
        g.SH == 2 && UsesDirect3x3(g, outChannels, groups) && (Path == Gemm.KernelPath.Vector512 || Path == Gemm.KernelPath.Vector256 && !Avx2ChannelOff && !Avx2InputGradientStride2Off)
        && ChannelConv3x3.AppliesInputGradientStride2(g);

    /// <summary>Whether AVX2 keeps im2col + GEMM + col2im for the stride-2 3x3 input gradient: the benchmarks' switch, off otherwise.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (training step at batch 128, alternating windows in one process,
    // 30 s): resnet8 1.06x (median 1.02x) with ChannelConv3x3.InputGradientStride2's AVX2 tile; resnet20 1.00x
    internal static bool Avx2InputGradientStride2Off;

    // x: (N,C,H,W), w: (OC,C/groups,KH,KW), b: (OC)? -> y: (N,OC,OH,OW); g.C is all input channels. Group gi reads
    // input channels [gi C/groups, (gi+1) C/groups) and writes output channels [gi OC/groups, (gi+1) OC/groups):
    // its slices of x, w and y are contiguous, so each (image, group) is one im2col + one GEMM. Split over
    // (image, group) pairs; with groups = 1 this is exactly the ungrouped loop.
    // relu: y = max(y, 0) as well; transposed: float32 w in the direct kernels' layout already, (C,KH,KW,OC) (used only
    // where they or PointwiseConv.ForwardChannels run), or null
    public static void Forward<T>(T[] x, T[] w, T[]? b, T[] y, int n, int oc, Conv2dGeometry g, int groups = 1, bool relu = false, float[]? transposed = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && UsesDirect3x3(g, oc, groups))
        {
            // the direct kernel clamps as it stores; the transposed weights are the caller's or live in pooled scratch
            using var wt = TransposedWeights.Of((float[])(object)w, transposed, oc, g.C, 9);
            if (UsesChannelConv3x3(g, oc)) ChannelConv3x3.Forward((float[])(object)x, wt.Array, (float[]?)(object?)b, (float[])(object)y, n, g.C, g.H, g.W, oc, relu, g.SH);
            else DirectConv3x3.Forward((float[])(object)x, wt.Array, (float[]?)(object?)b, (float[])(object)y, n, g.C, g.H, g.W, oc, relu, g.SH);
            return;
        }
        // the ReLU clamps each (image, group) or plane as soon as it is computed, while it is in cache (a pass over the
        // whole output afterwards cost about as much as the ReLU layer it replaces)
        if (DepthwiseConv2d.Applies(g, oc, groups)) DepthwiseConv2d.Forward(x, w, b, y, n, g, relu);
        else if (typeof(T) == typeof(float) && PointwiseConv.UsesChannels(g, oc, groups))
        {
            using var wt = TransposedWeights.Of((float[])(object)w, transposed, oc, g.C, 1);
            PointwiseConv.ForwardChannels((float[])(object)x, wt.Array, (float[]?)(object?)b, (float[])(object)y, n, oc, g, relu);
        }
        else if (typeof(T) == typeof(float) && PointwiseConv.Applies(g, oc, groups))
            PointwiseConv.Forward((float[])(object)x, (float[])(object)w, (float[]?)(object?)b, (float[])(object)y, n, oc, g, relu);
        else if (typeof(T) == typeof(float) && DirectConvRows.Applies(g, groups))
            DirectConvRows.Forward((float[])(object)x, (float[])(object)w, (float[]?)(object?)b, (float[])(object)y, n, oc, g, relu);
        else Gemm2d(x, w, b, y, n, oc, g, groups, relu);
    }

    /// <summary>
    /// Weights in the direct kernels' (C,KH,KW,OC) layout for one call: the caller's kept copy
    /// (<see cref="UsesTransposedWeights"/>), or the weights transposed into pooled scratch, returned on dispose.
    /// </summary>
    private readonly struct TransposedWeights : IDisposable
    {
        private readonly bool _rented;

        private TransposedWeights(float[] array, bool rented)
        {
            Array = array;
            _rented = rented;
        }

        public float[] Array { get; }

        // w: (OC,C,KH,KW) with taps = KH KW; kept: the same already transposed, or null
        public static TransposedWeights Of(float[] w, float[]? kept, int oc, int c, int taps)
        {
            if (kept is not null) return new(kept, rented: false);
            float[] t = ArrayPool<float>.Shared.Rent(oc * c * taps);
            DirectConv3x3.TransposeWeights(w, t, oc, c, taps);
            return new(t, rented: true);
        }

        public void Dispose()
        {
            if (_rented) ArrayPool<float>.Shared.Return(Array);
        }
    }

    /// <summary>
    /// The GEMM columns (images x OH OW) a block of images aims at: where an image has at most half as many output
    /// pixels, <see cref="Gemm2dImages"/> and <see cref="BackwardImages"/> lay the im2col of several images side by
    /// side, so that the GEMM sees enough columns to fill its panels; larger maps keep one GEMM per image.
    /// </summary>
    // measured on the AVX-512 Xeon, 2 threads, alternating, least of ten 40-ms windows: lenet5's 6 -> 16 5x5 on 14x14
    // (100 columns an image) forward at batch 256 3794 -> 2769 us, backward at batch 128 3653 -> 2923 us; mobilenet's
    // 1x1 forward 7-14% faster (their backward keeps the per-image GEMMs, see Backward)
    private const int BlockColumns = 512;

    // im2col + GEMM per (image, group), or the image itself for 1x1 stride 1
    private static void Gemm2d<T>(T[] x, T[] w, T[]? b, T[] y, int n, int oc, Conv2dGeometry g, int groups, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (groups == 1 && n > 1 && 2 * g.L <= BlockColumns)
        {
            Gemm2dImages(x, w, b, y, n, oc, g, relu);
            return;
        }
        bool pointwise = IsPointwise(g);
        var gg = g with { C = g.C / groups }; // one group's geometry
        int ocg = oc / groups;
        int xs = g.C * g.H * g.W, ys = oc * g.L, xgs = gg.C * g.H * g.W, ygs = ocg * g.L, wgs = ocg * gg.Ckk;
        Parallelism.ForBalanced(n * groups, (_, start, end) =>
        {
            T[] col = pointwise ? [] : ArrayPool<T>.Shared.Rent(gg.Ckk * g.L);
            try
            {
                for (int k = start; k < end; k++)
                {
                    int i = k / groups, gi = k % groups;
                    var xg = x.AsSpan(i * xs + gi * xgs, xgs);
                    if (!pointwise) Im2Col<T>(xg, gg, col);
                    var yg = y.AsSpan(i * ys + gi * ygs, ygs);
                    Gemm.Multiply<T>(ocg, g.L, gg.Ckk, w.AsSpan(gi * wgs, wgs), gg.Ckk, 1, pointwise ? xg : col, g.L, 1, yg, g.L, accumulate: false);
                    if (b is not null)
                        for (int o = 0; o < ocg; o++) System.Numerics.Tensors.TensorPrimitives.Add(yg.Slice(o * g.L, g.L), b[gi * ocg + o], yg.Slice(o * g.L, g.L));
                    if (relu) System.Numerics.Tensors.TensorPrimitives.Max<T>(yg, T.Zero, yg);
                }
            }
            finally
            {
                if (!pointwise) ArrayPool<T>.Shared.Return(col);
            }
        });
    }

    // x: (N,C,H,W), w: (OC,C,KH,KW), b: (OC)? -> y: (N,OC,OH,OW) for small maps: blocks of nb images, their im2col
    // side by side as col (C KH KW, nb OH OW), one GEMM w col -> (OC, nb OH OW) in scratch, then each image's rows
    // copied out with the bias (and ReLU). Every output is the same sum as in the per-image GEMM: the columns of a
    // product do not change each other's sums.
    private static void Gemm2dImages<T>(T[] x, T[] w, T[]? b, T[] y, int n, int oc, Conv2dGeometry g, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int l = g.L, ckk = g.Ckk, xs = g.C * g.H * g.W, ys = oc * l;
        bool pointwise = IsPointwise(g);
        int nb = Math.Clamp((BlockColumns + l - 1) / l, 1, Math.Max(1, n / Parallelism.Threads));
        int blocks = (n + nb - 1) / nb;
        Parallelism.ForBalanced(blocks, (_, start, end) =>
        {
            T[] col = ArrayPool<T>.Shared.Rent(ckk * nb * l);
            T[] c = ArrayPool<T>.Shared.Rent(oc * nb * l);
            try
            {
                for (int blk = start; blk < end; blk++)
                {
                    int i0 = blk * nb, cnt = Math.Min(nb, n - i0), ld = cnt * l;
                    for (int i = 0; i < cnt; i++)
                    {
                        if (!pointwise) Im2Col<T>(x.AsSpan((i0 + i) * xs, xs), g, col.AsSpan(i * l), ld);
                        else for (int ch = 0; ch < g.C; ch++) x.AsSpan((i0 + i) * xs + ch * l, l).CopyTo(col.AsSpan(ch * ld + i * l, l)); // 1x1: its planes
                    }
                    Gemm.Multiply<T>(oc, ld, ckk, w, ckk, 1, col, ld, 1, c, ld, accumulate: false);
                    for (int i = 0; i < cnt; i++)
                        for (int o = 0; o < oc; o++)
                        {
                            var src = c.AsSpan(o * ld + i * l, l);
                            var dst = y.AsSpan((i0 + i) * ys + o * l, l);
                            if (b is null && !relu) src.CopyTo(dst);
                            else BiasRelu(src, b is null ? T.Zero : b[o], dst, relu);
                        }
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(col);
                ArrayPool<T>.Shared.Return(c);
            }
        });
    }

    // on: the 1x1 input gradient keeps the GEMM on this thread (the tests' and benchmarks' other side)
    [ThreadStatic] private static bool t_pointwiseInputGradientOff;

    internal static bool PointwiseInputGradientOff { get => t_pointwiseInputGradientOff; set => t_pointwiseInputGradientOff = value; }

    // dy: (N,OC,OH,OW), x: (N,C,H,W), w: (OC,C/groups,KH,KW) -> dx: (N,C,H,W)?, dw: (OC,C/groups,KH,KW)?, db: (OC)?
    // per (image, group) as Forward; dw and db are summed per chunk, then the chunks in order
    public static void Backward<T>(T[] dy, T[] x, T[] w, T[]? dx, T[]? dw, T[]? db, int n, int oc, Conv2dGeometry g, int groups = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (DepthwiseConv2d.Applies(g, oc, groups))
        {
            DepthwiseConv2d.Backward(dy, x, w, dx, dw, db, n, g);
            return;
        }
        if (typeof(T) == typeof(float))
        {
            // dx of a 3x3 stride-1 same convolution is the same convolution of dy with flipped, transposed weights
            if (dx is not null && g.SH == 1 && UsesDirect3x3(g, g.C, groups))
            {
                float[] flipped = ArrayPool<float>.Shared.Rent(oc * g.C * 9), wt = ArrayPool<float>.Shared.Rent(oc * g.C * 9);
                try
                {
                    DirectConv3x3.FlippedTransposedWeights((float[])(object)w, flipped, wt, oc, g.C);
                    var gdx = g with { C = oc };
                    if (UsesChannelConv3x3(gdx, g.C)) ChannelConv3x3.Forward((float[])(object)dy, wt, null, (float[])(object)dx, n, oc, g.H, g.W, g.C);
                    else DirectConv3x3.Forward((float[])(object)dy, wt, null, (float[])(object)dx, n, oc, g.H, g.W, g.C);
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(flipped);
                    ArrayPool<float>.Shared.Return(wt);
                }
                dx = null;
            }
            // dx of a 1x1 stride-1 unpadded convolution is the 1x1 convolution of dy with the transposed weights
            // (C filters over OC channels): the direct pointwise kernels, where they take that problem
            if (dx is not null && groups == 1 && g is { KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0 } && !PointwiseInputGradientOff)
            {
                var gdx = g with { C = oc };
                if (PointwiseConv.Applies(gdx, g.C, 1))
                {
                    // PointwiseConv.Forward reads its weights as (filters, channels): W^T, (C, OC)
                    float[] wT = ArrayPool<float>.Shared.Rent(oc * g.C);
                    try
                    {
                        DirectConv3x3.TransposeWeights((float[])(object)w, wT, oc, g.C, 1);
                        PointwiseConv.Forward((float[])(object)dy, wT, null, (float[])(object)dx, n, g.C, gdx, relu: false);
                    }
                    finally
                    {
                        ArrayPool<float>.Shared.Return(wT);
                    }
                    dx = null;
                }
                else if (PointwiseConv.UsesChannels(gdx, g.C, 1))
                {
                    // ForwardChannels reads (channels, filters): W itself, (OC, C)
                    PointwiseConv.ForwardChannels((float[])(object)dy, (float[])(object)w, null, (float[])(object)dx, n, g.C, gdx, relu: false);
                    dx = null;
                }
            }
            // dx of a stride-1 convolution with another kernel (LeNet-5's 5x5) on AVX2: the flipped convolution on flat
            // rows instead of a GEMM and col2im
            if (dx is not null && DirectConvRows.AppliesInputGradient(g, oc, groups))
            {
                DirectConvRows.InputGradient((float[])(object)dy, (float[])(object)w, (float[])(object)dx, n, oc, g);
                dx = null;
            }
            if (dx is not null && UsesChannelInputGradientStride2(g, oc, groups))
            {
                ChannelConv3x3.InputGradientStride2((float[])(object)dy, (float[])(object)w, (float[])(object)dx, n, g.C, g.H, g.W, oc);
                dx = null;
            }
            if (dw is not null && UsesDirect3x3(g, oc, groups))
            {
                if (UsesChannelWeightGradient(g, oc)) ChannelConv3x3.WeightGradient((float[])(object)x, (float[])(object)dy, (float[])(object)dw, n, g.C, g.H, g.W, oc, g.SH);
                else DirectConv3x3.WeightGradient((float[])(object)x, (float[])(object)dy, (float[])(object)dw, n, g.C, g.H, g.W, oc, g.SH);
                dw = null;
            }
            if (dx is null && dw is null && db is null) return;
        }
        // (a 1x1 convolution's GEMMs read x and write dx in place: gathering them was slower, 0.78-0.86x on mobilenet's)
        if (groups == 1 && n > 1 && !IsPointwise(g) && 2 * g.L <= BlockColumns)
        {
            BackwardImages(dy, x, w, dx, dw, db, n, oc, g);
            return;
        }
        bool pointwise = IsPointwise(g);
        var gg = g with { C = g.C / groups };
        int ocg = oc / groups;
        int xs = g.C * g.H * g.W, ys = oc * g.L, xgs = gg.C * g.H * g.W, ygs = ocg * g.L, wgs = ocg * gg.Ckk, wsz = oc * gg.Ckk;
        int chunks = Parallelism.Chunks(n * groups);
        // per-chunk sums (pooled blocks of chunks x size), added in chunk order
        T[] partialW = dw is null ? [] : ArrayPool<T>.Shared.Rent(chunks * wsz);
        T[] partialB = db is null ? [] : ArrayPool<T>.Shared.Rent(chunks * oc);
        if (dw is not null) partialW.AsSpan(0, chunks * wsz).Clear();
        if (db is not null) partialB.AsSpan(0, chunks * oc).Clear();
        Parallelism.For(n * groups, chunks, (chunk, start, end) =>
        {
            T[] col = pointwise ? [] : ArrayPool<T>.Shared.Rent(gg.Ckk * g.L);
            try
            {
                for (int k = start; k < end; k++)
                {
                    int i = k / groups, gi = k % groups;
                    var dyg = dy.AsSpan(i * ys + gi * ygs, ygs);
                    if (dw is not null)
                    {
                        var xg = x.AsSpan(i * xs + gi * xgs, xgs);
                        if (!pointwise) Im2Col<T>(xg, gg, col);
                        // dw_g += dy_ig (OCg, L) @ col^T (L, Ckk_g)
                        Gemm.Multiply<T>(ocg, gg.Ckk, g.L, dyg, g.L, 1, pointwise ? xg : col, 1, g.L, partialW.AsSpan(chunk * wsz + gi * wgs, wgs), gg.Ckk, accumulate: true);
                    }
                    if (db is not null)
                        for (int o = 0; o < ocg; o++) partialB[chunk * oc + gi * ocg + o] += System.Numerics.Tensors.TensorPrimitives.Sum<T>(dyg.Slice(o * g.L, g.L));
                    if (dx is not null)
                    {
                        // dcol (Ckk_g, L) = w_g^T (Ckk_g, OCg) @ dy_ig (OCg, L); for 1x1 stride 1 that is dx_ig itself
                        var dxg = dx.AsSpan(i * xs + gi * xgs, xgs);
                        Gemm.Multiply<T>(gg.Ckk, g.L, ocg, w.AsSpan(gi * wgs, wgs), 1, gg.Ckk, dyg, g.L, 1, pointwise ? dxg : col, g.L, accumulate: false);
                        if (!pointwise) Col2Im<T>(col, gg, dxg);
                    }
                }
            }
            finally
            {
                if (!pointwise) ArrayPool<T>.Shared.Return(col);
            }
        });
        if (dw is not null) SumChunks(partialW, chunks, dw.AsSpan(0, wsz));
        if (db is not null) SumChunks(partialB, chunks, db.AsSpan(0, oc));
    }

    // dst = src + bias, then max(dst, 0) when relu, in one pass (two TensorPrimitives calls per 49-element row cost
    // more than the row); the same operations as TensorPrimitives.Add and Max, so the same bits
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BiasRelu<T>(ReadOnlySpan<T> src, T bias, Span<T> dst, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = src.Length, i = 0;
        if (dst.Length < n) throw new ArgumentException("BiasRelu: destination shorter than source.", nameof(dst));
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            Vector<T> vb = new(bias);
            for (; i <= n - Vector<T>.Count; i += Vector<T>.Count)
            {
                var v = new Vector<T>(src[i..]) + vb;
                (relu ? Vector.Max(v, Vector<T>.Zero) : v).CopyTo(dst[i..]);
            }
        }
        for (; i < n; i++)
        {
            T v = src[i] + bias;
            dst[i] = relu ? T.Max(v, T.Zero) : v;
        }
    }

    // partial: (chunks, size) pooled -> sum: (size) = partial[0] + partial[1] + ... in chunk order; partial goes back to the pool
    private static void SumChunks<T>(T[] partial, int chunks, Span<T> sum) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int size = sum.Length;
        partial.AsSpan(0, size).CopyTo(sum);
        for (int c = 1; c < chunks; c++) System.Numerics.Tensors.TensorPrimitives.Add<T>(sum, partial.AsSpan(c * size, size), sum);
        ArrayPool<T>.Shared.Return(partial);
    }

    // dy: (N,OC,OH,OW), x: (N,C,H,W), w: (OC,C,KH,KW) -> dx?, dw?, db? for small maps, as Gemm2dImages: blocks of nb
    // images (nb from the map size alone, not the thread count), dy's rows gathered side by side as (OC, nb OH OW) and
    // x's im2col as (C KH KW, nb OH OW): one GEMM each for dw += dy col^T and dcol = w^T dy per block, then col2im
    // per image. dw and db are summed per chunk, then the chunks in order (as Backward).
    private static void BackwardImages<T>(T[] dy, T[] x, T[] w, T[]? dx, T[]? dw, T[]? db, int n, int oc, Conv2dGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int l = g.L, ckk = g.Ckk, xs = g.C * g.H * g.W, ys = oc * l, wsz = oc * ckk;
        int nb = Math.Clamp((BlockColumns + l - 1) / l, 1, n);
        int blocks = (n + nb - 1) / nb;
        int chunks = Parallelism.Chunks(blocks);
        T[] partialW = dw is null ? [] : ArrayPool<T>.Shared.Rent(chunks * wsz);
        T[] partialB = db is null ? [] : ArrayPool<T>.Shared.Rent(chunks * oc);
        if (dw is not null) partialW.AsSpan(0, chunks * wsz).Clear();
        if (db is not null) partialB.AsSpan(0, chunks * oc).Clear();
        Parallelism.For(blocks, chunks, (chunk, start, end) =>
        {
            T[] col = dw is null && dx is null ? [] : ArrayPool<T>.Shared.Rent(ckk * nb * l);
            T[] dyb = dw is null && dx is null ? [] : ArrayPool<T>.Shared.Rent(oc * nb * l);
            try
            {
                for (int blk = start; blk < end; blk++)
                {
                    int i0 = blk * nb, cnt = Math.Min(nb, n - i0), ld = cnt * l;
                    if (db is not null)
                        for (int i = 0; i < cnt; i++)
                            for (int o = 0; o < oc; o++) partialB[chunk * oc + o] += System.Numerics.Tensors.TensorPrimitives.Sum<T>(dy.AsSpan((i0 + i) * ys + o * l, l));
                    if (dw is null && dx is null) continue;
                    for (int i = 0; i < cnt; i++)
                        for (int o = 0; o < oc; o++) dy.AsSpan((i0 + i) * ys + o * l, l).CopyTo(dyb.AsSpan(o * ld + i * l, l));
                    if (dw is not null)
                    {
                        for (int i = 0; i < cnt; i++) Im2Col<T>(x.AsSpan((i0 + i) * xs, xs), g, col.AsSpan(i * l), ld);
                        // dw += dy_b (OC, nb L) @ col_b^T (nb L, Ckk)
                        Gemm.Multiply<T>(oc, ckk, ld, dyb, ld, 1, col, 1, ld, partialW.AsSpan(chunk * wsz, wsz), ckk, accumulate: true);
                    }
                    if (dx is not null)
                    {
                        // dcol_b (Ckk, nb L) = w^T (Ckk, OC) @ dy_b (OC, nb L), then each image's columns back onto its dx
                        Gemm.Multiply<T>(ckk, ld, oc, w, 1, ckk, dyb, ld, 1, col, ld, accumulate: false);
                        for (int i = 0; i < cnt; i++) Col2Im<T>(col.AsSpan(i * l), g, dx.AsSpan((i0 + i) * xs, xs), ld);
                    }
                }
            }
            finally
            {
                if (col.Length > 0) ArrayPool<T>.Shared.Return(col);
                if (dyb.Length > 0) ArrayPool<T>.Shared.Return(dyb);
            }
        });
        if (dw is not null) SumChunks(partialW, chunks, dw.AsSpan(0, wsz));
        if (db is not null) SumChunks(partialB, chunks, db.AsSpan(0, oc));
    }
}
