using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

internal static partial class PointwiseConv
{
    private const int Seg = 7;

    /// <summary>
    /// Whether <see cref="ForwardChannels"/> runs the convolution: AVX-512 with filters a multiple of 32 or AVX2 with
    /// filters a multiple of 8, a 1x1 unpadded ungrouped kernel, and either stride 1 on planes smaller than <see cref="MinPixels"/> (7x7: the pixel registers of
    /// <see cref="Forward"/> would be half empty) of at least 7 pixels, or stride 2 with output rows a multiple of 7
    /// pixels wide (a ResNet's projection shortcut: 28 -> 14, 14 -> 7).
    /// </summary>
    // measured on the 2-core AVX-512 VM of issue #11, one thread, 5 images (a depth-first part), weights transposed
    // at each call, against the GEMM over the five images side by side: 64 -> 128 at 7x7 47.4 -> 24.7 us, 128 -> 128
    // 69.2 -> 46.5 us (the half tile for the odd seventh segment 1.10x of that); at batch 1 64 -> 128 12.4 -> 7.8 us.
    // mobilenet's Predict with both pointwise kernels at batch 256: 8.96-10.8 -> 7.1-8.6 ms (1.21-1.33x, alternating
    // processes), at batch 1 (one thread) 73-75 -> 57-58 us
    // AVX2 (the 2-core AMD EPYC without AVX-512, alternating windows in one process, least time of each, median in
    // brackets): one thread, 64 -> 128 at 7x7, batch 1 1.15x (1.12x) the GEMM, batch 8 1.00x; mobilenet's Predict at
    // batch 256 1.02x (1.00x), at batch 1 1.06x (1.04x); resnet8's (the stride-2 shortcuts) 1.03x (1.03x) and 1.26x
    // (1.05x); their training steps 1.02x (1.01x) and 0.97x (1.03x)
    public static bool UsesChannels(in Conv2dGeometry g, int outChannels, int groups) =>
        (Conv2dKernels.Path == Gemm.KernelPath.Vector512 && outChannels % (2 * V) == 0
            || Conv2dKernels.Path == Gemm.KernelPath.Vector256 && !ChannelsAvx2Off && outChannels % V256Channels == 0)
        && groups == 1 && g is { KH: 1, KW: 1, PH: 0, PW: 0 }
        && (g is { SH: 1, SW: 1 } && g.L < MinPixels && g.L >= Seg || g is { SH: 2, SW: 2 } && g.OW % Seg == 0);

    // x: (N,C,H,W), wt: (C,OC) (DirectConv3x3.TransposeWeights with one tap), b: (OC)? -> y: (N,OC,OH,OW) = w x + b
    // (at stride 1 or 2), max(y, 0) when relu. Vectorized over output channels, as ChannelConv3x3: a tile is two 7-pixel
    // segments x two registers of filters (28 accumulators; AVX2: one register, 14 accumulators); each input channel loads two weight registers and broadcasts 14 input values from
    // the plane in place (a 1x1 kernel needs no padded copy). The tiles store (pixel, channel) into scratch, transposed
    // to (OC, L) per image. A plane's last partial segment is the 7 pixels that end it (overlapping the one before:
    // the same sums, stored again); an odd last segment runs alone in half a tile. Images split across threads.
    public static void ForwardChannels(float[] x, float[] wt, float[]? b, float[] y, int n, int oc, in Conv2dGeometry g, bool relu)
    {
        if (!UsesChannels(g, oc, 1)) throw new ArgumentException($"PointwiseConv.ForwardChannels: needs AVX-512 with filters a multiple of {2 * V} or AVX2 with a multiple of {V256Channels}, a 1x1 unpadded kernel, and stride 1 with {Seg} to {MinPixels - 1} pixels or stride 2 with output rows a multiple of {Seg} wide, got a {g.KH}x{g.KW} kernel, stride {g.SH}, padding {g.PH}, {oc} filters and a {g.OH}x{g.OW} output.");
        int c = g.C, l = g.L, hw = g.H * g.W, s = g.SH, w = g.W, ow = g.OW;
        if (x.Length < (long)n * c * hw || wt.Length < oc * c || y.Length < (long)n * oc * l || (b is not null && b.Length < oc))
            throw new ArgumentException($"PointwiseConv.ForwardChannels: arrays shorter than the shapes ({n} images, {c} -> {oc} channels, {g.H}x{g.W} -> {g.OH}x{g.OW}).");
        if (n == 1 && !SplitOff && (long)oc * c * l >= SplitMacs && Parallelism.Threads > 1 && !Parallelism.InChunk)
        {
            // one image: the threads take blocks of filters (the same bits as one thread)
            float[] one = ArrayPool<float>.Shared.Rent(l * oc);
            int filters = FilterBlock;
            try
            {
                Parallelism.For(oc / filters, (_, start, end) => ImageBlock(x, wt, b, one, y, 0, c, hw, oc, l, s, w, ow, relu, start * filters, end * filters));
            }
            finally
            {
                ArrayPool<float>.Shared.Return(one);
            }
            return;
        }
        Parallelism.ForBalancedMacs(n, (_, start, end) =>
        {
            float[] scr = ArrayPool<float>.Shared.Rent(l * oc);
            try
            {
                for (int i = start; i < end; i++) ImageBlock(x, wt, b, scr, y, i, c, hw, oc, l, s, w, ow, relu, 0, oc);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scr);
            }
        }, (long)n * oc * c * l);
    }

    /// <summary>Whether one image keeps one thread: the benchmarks' switch, off otherwise.</summary>
    internal static bool SplitOff;

    /// <summary>From this many multiply-adds, one image's filter blocks split over the threads.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (alternating windows in one process, least time, median in
    // brackets): mobilenet's Predict at batch 1 1.09x (1.05x); resnet8's 100k stride-2 shortcuts split from 50k were
    // 0.99x and 0.96x (1.02x), so they keep one thread. Not measured on AVX-512
    internal const long SplitMacs = 200_000;

    // the filters a tile holds: 32 (AVX-512) or 8 (AVX2)
    private static int FilterBlock => Conv2dKernels.Path == Gemm.KernelPath.Vector256 ? V256Channels : 2 * V;

    // image i, filters [f0, f1) in tiles of FilterBlock by segment pairs -> scr (L, OC) columns [f0, f1), then
    // transposed into y's planes [f0, f1) of that image
    private static void ImageBlock(float[] x, float[] wt, float[]? b, float[] scr, float[] y, int i, int c, int hw, int oc, int l, int s, int w, int ow, bool relu, int f0, int f1)
    {
        bool avx2 = Conv2dKernels.Path == Gemm.KernelPath.Vector256;
        int segs = (l + Seg - 1) / Seg, filters = FilterBlock;
        // a segment's first input pixel: stride 1, the plane is one run of pixels; stride 2, a segment is 7 pixels of one
        // output row (OW a multiple of 7), reading every other input pixel of input row 2 r
        int In(int p) => s == 1 ? p : 2 * (p / ow) * w + 2 * (p % ow);
        for (int f = f0; f < f1; f += filters)
            for (int t = 0; t < segs; t += 2)
            {
                int p = SegmentStart(t, segs, l), q = t + 1 < segs ? SegmentStart(t + 1, segs, l) : -1;
                if (s == 1 && q >= 0)
                {
                    if (avx2) Tile256<One>(x, wt, b, scr, i, c, hw, oc, f, p, q, p, q, relu);
                    else Tile<One>(x, wt, b, scr, i, c, hw, oc, f, p, q, p, q, relu);
                }
                else if (s == 1) // an odd last segment alone
                {
                    if (avx2) TileHalf256<One>(x, wt, b, scr, i, c, hw, oc, f, p, p, relu);
                    else TileHalf<One>(x, wt, b, scr, i, c, hw, oc, f, p, p, relu);
                }
                else if (q >= 0)
                {
                    if (avx2) Tile256<Two>(x, wt, b, scr, i, c, hw, oc, f, In(p), In(q), p, q, relu);
                    else Tile<Two>(x, wt, b, scr, i, c, hw, oc, f, In(p), In(q), p, q, relu);
                }
                else if (avx2) TileHalf256<Two>(x, wt, b, scr, i, c, hw, oc, f, In(p), p, relu);
                else TileHalf<Two>(x, wt, b, scr, i, c, hw, oc, f, In(p), p, relu);
            }
        ChannelConv3x3.Transpose(ref scr[f0], l, f1 - f0, oc, ref y[((long)i * oc + f0) * l], l);
    }

    // segment t of a plane of l pixels starts at 7 t, the last one at l - 7
    private static int SegmentStart(int t, int segs, int l) => t == segs - 1 ? l - Seg : t * Seg;

    private interface IStep
    {
        static abstract int S { get; }
    }

    private readonly struct One : IStep
    {
        public static int S => 1;
    }

    private readonly struct Two : IStep
    {
        public static int S => 2;
    }

    // image i (planes of hw input pixels), filters [f, f + 32), output pixels [p, p + 7) and [q, q + 7), which read
    // the input pixels ia + S j and ib + S j -> scr rows of those output pixels
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TS>(float[] x, float[] wt, float[]? b, float[] scr, int i, int c, int hw, int oc, int f, int ia, int ib, int p, int q, bool relu)
        where TS : struct, IStep
    {
        ref float xa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * hw + ia);
        ref float xb = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * hw + ib);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), f);
        Vector512<float> i0 = Vector512<float>.Zero, i1 = Vector512<float>.Zero;
        if (b is not null)
        {
            i0 = Vector512.LoadUnsafe(ref b[f]);
            i1 = Vector512.LoadUnsafe(ref b[f], (nuint)V);
        }
        Vector512<float> a0 = i0, b0 = i1, a1 = i0, b1 = i1, a2 = i0, b2 = i1, a3 = i0, b3 = i1, a4 = i0, b4 = i1, a5 = i0, b5 = i1, a6 = i0, b6 = i1;
        Vector512<float> a7 = i0, b7 = i1, a8 = i0, b8 = i1, a9 = i0, b9 = i1, a10 = i0, b10 = i1, a11 = i0, b11 = i1, a12 = i0, b12 = i1, a13 = i0, b13 = i1;
        nuint k = 0, step = (nuint)oc, v = V, off = 0, ls = (nuint)hw;
        for (int ci = 0; ci < c; ci++, k += step, off += ls)
        {
            var w0 = Vector512.LoadUnsafe(ref pw, k);
            var w1 = Vector512.LoadUnsafe(ref pw, k + v);
            var xv = Vector512.Create(Unsafe.Add(ref xa, off)); a0 = Vector512.FusedMultiplyAdd(xv, w0, a0); b0 = Vector512.FusedMultiplyAdd(xv, w1, b0);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(1 * TS.S))); a1 = Vector512.FusedMultiplyAdd(xv, w0, a1); b1 = Vector512.FusedMultiplyAdd(xv, w1, b1);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(2 * TS.S))); a2 = Vector512.FusedMultiplyAdd(xv, w0, a2); b2 = Vector512.FusedMultiplyAdd(xv, w1, b2);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(3 * TS.S))); a3 = Vector512.FusedMultiplyAdd(xv, w0, a3); b3 = Vector512.FusedMultiplyAdd(xv, w1, b3);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(4 * TS.S))); a4 = Vector512.FusedMultiplyAdd(xv, w0, a4); b4 = Vector512.FusedMultiplyAdd(xv, w1, b4);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(5 * TS.S))); a5 = Vector512.FusedMultiplyAdd(xv, w0, a5); b5 = Vector512.FusedMultiplyAdd(xv, w1, b5);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(6 * TS.S))); a6 = Vector512.FusedMultiplyAdd(xv, w0, a6); b6 = Vector512.FusedMultiplyAdd(xv, w1, b6);
            xv = Vector512.Create(Unsafe.Add(ref xb, off)); a7 = Vector512.FusedMultiplyAdd(xv, w0, a7); b7 = Vector512.FusedMultiplyAdd(xv, w1, b7);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + (nuint)(1 * TS.S))); a8 = Vector512.FusedMultiplyAdd(xv, w0, a8); b8 = Vector512.FusedMultiplyAdd(xv, w1, b8);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + (nuint)(2 * TS.S))); a9 = Vector512.FusedMultiplyAdd(xv, w0, a9); b9 = Vector512.FusedMultiplyAdd(xv, w1, b9);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + (nuint)(3 * TS.S))); a10 = Vector512.FusedMultiplyAdd(xv, w0, a10); b10 = Vector512.FusedMultiplyAdd(xv, w1, b10);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + (nuint)(4 * TS.S))); a11 = Vector512.FusedMultiplyAdd(xv, w0, a11); b11 = Vector512.FusedMultiplyAdd(xv, w1, b11);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + (nuint)(5 * TS.S))); a12 = Vector512.FusedMultiplyAdd(xv, w0, a12); b12 = Vector512.FusedMultiplyAdd(xv, w1, b12);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + (nuint)(6 * TS.S))); a13 = Vector512.FusedMultiplyAdd(xv, w0, a13); b13 = Vector512.FusedMultiplyAdd(xv, w1, b13);
        }
        ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), p * oc + f);
        ref float db = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), q * oc + f);
        nuint o = (nuint)oc;
        // the second segment first: where it repeats or overlaps the first, the values are the same
        Put(a7, b7, ref db, 0 * o, relu); Put(a8, b8, ref db, 1 * o, relu); Put(a9, b9, ref db, 2 * o, relu); Put(a10, b10, ref db, 3 * o, relu);
        Put(a11, b11, ref db, 4 * o, relu); Put(a12, b12, ref db, 5 * o, relu); Put(a13, b13, ref db, 6 * o, relu);
        Put(a0, b0, ref da, 0 * o, relu); Put(a1, b1, ref da, 1 * o, relu); Put(a2, b2, ref da, 2 * o, relu); Put(a3, b3, ref da, 3 * o, relu);
        Put(a4, b4, ref da, 4 * o, relu); Put(a5, b5, ref da, 5 * o, relu); Put(a6, b6, ref da, 6 * o, relu);
    }

    // image i, filters [f, f + 32), output pixels [p, p + 7) reading input pixels ia + S j -> scr rows of those
    // pixels: Tile's first half (14 accumulators)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileHalf<TS>(float[] x, float[] wt, float[]? b, float[] scr, int i, int c, int hw, int oc, int f, int ia, int p, bool relu)
        where TS : struct, IStep
    {
        ref float xa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * hw + ia);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), f);
        Vector512<float> i0 = Vector512<float>.Zero, i1 = Vector512<float>.Zero;
        if (b is not null)
        {
            i0 = Vector512.LoadUnsafe(ref b[f]);
            i1 = Vector512.LoadUnsafe(ref b[f], (nuint)V);
        }
        Vector512<float> a0 = i0, b0 = i1, a1 = i0, b1 = i1, a2 = i0, b2 = i1, a3 = i0, b3 = i1, a4 = i0, b4 = i1, a5 = i0, b5 = i1, a6 = i0, b6 = i1;
        nuint k = 0, step = (nuint)oc, v = V, off = 0, ls = (nuint)hw;
        for (int ci = 0; ci < c; ci++, k += step, off += ls)
        {
            var w0 = Vector512.LoadUnsafe(ref pw, k);
            var w1 = Vector512.LoadUnsafe(ref pw, k + v);
            var xv = Vector512.Create(Unsafe.Add(ref xa, off)); a0 = Vector512.FusedMultiplyAdd(xv, w0, a0); b0 = Vector512.FusedMultiplyAdd(xv, w1, b0);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(1 * TS.S))); a1 = Vector512.FusedMultiplyAdd(xv, w0, a1); b1 = Vector512.FusedMultiplyAdd(xv, w1, b1);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(2 * TS.S))); a2 = Vector512.FusedMultiplyAdd(xv, w0, a2); b2 = Vector512.FusedMultiplyAdd(xv, w1, b2);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(3 * TS.S))); a3 = Vector512.FusedMultiplyAdd(xv, w0, a3); b3 = Vector512.FusedMultiplyAdd(xv, w1, b3);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(4 * TS.S))); a4 = Vector512.FusedMultiplyAdd(xv, w0, a4); b4 = Vector512.FusedMultiplyAdd(xv, w1, b4);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(5 * TS.S))); a5 = Vector512.FusedMultiplyAdd(xv, w0, a5); b5 = Vector512.FusedMultiplyAdd(xv, w1, b5);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + (nuint)(6 * TS.S))); a6 = Vector512.FusedMultiplyAdd(xv, w0, a6); b6 = Vector512.FusedMultiplyAdd(xv, w1, b6);
        }
        ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), p * oc + f);
        nuint o = (nuint)oc;
        Put(a0, b0, ref da, 0 * o, relu); Put(a1, b1, ref da, 1 * o, relu); Put(a2, b2, ref da, 2 * o, relu); Put(a3, b3, ref da, 3 * o, relu);
        Put(a4, b4, ref da, 4 * o, relu); Put(a5, b5, ref da, 5 * o, relu); Put(a6, b6, ref da, 6 * o, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector512<float> a, Vector512<float> b, ref float dst, nuint at, bool relu)
    {
        if (relu)
        {
            a = Vector512.Max(a, Vector512<float>.Zero);
            b = Vector512.Max(b, Vector512<float>.Zero);
        }
        a.StoreUnsafe(ref dst, at);
        b.StoreUnsafe(ref dst, at + V);
    }
}
