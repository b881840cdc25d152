using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

internal static partial class PointwiseConv
{
    private const int Seg = 7;

    /// <summary>
    /// Whether <see cref="ForwardChannels"/> runs the convolution: AVX-512, a 1x1 stride-1 unpadded ungrouped kernel,
    /// filters a multiple of 32, and planes smaller than <see cref="MinPixels"/> (7x7: the pixel registers of
    /// <see cref="Forward"/> would be half empty) of at least 7 pixels.
    /// </summary>
    // measured on the 2-core AVX-512 VM of issue #11, one thread, 5 images (a depth-first part), weights transposed
    // at each call, against the GEMM over the five images side by side: 64 -> 128 at 7x7 47.4 -> 24.7 us, 128 -> 128
    // 69.2 -> 46.5 us (the half tile for the odd seventh segment 1.10x of that); at batch 1 64 -> 128 12.4 -> 7.8 us.
    // mobilenet's Predict with both pointwise kernels at batch 256: 8.96-10.8 -> 7.1-8.6 ms (1.21-1.33x, alternating
    // processes), at batch 1 (one thread) 73-75 -> 57-58 us
    public static bool UsesChannels(in Conv2dGeometry g, int outChannels, int groups) =>
        Conv2dKernels.Path == Gemm.KernelPath.Vector512 && groups == 1 && g is { KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0 }
        && outChannels % (2 * V) == 0 && g.L < MinPixels && g.L >= Seg;

    // x: (N,C,L), wt: (C,OC) (DirectConv3x3.TransposeWeights with one tap), b: (OC)? -> y: (N,OC,L) = w x + b, max(y, 0)
    // when relu. Vectorized over output channels, as ChannelConv3x3: a tile is two 7-pixel segments x two registers of
    // filters (28 accumulators); each input channel loads two weight registers and broadcasts 14 input values from
    // the plane in place (a 1x1 kernel needs no padded copy). The tiles store (pixel, channel) into scratch, transposed
    // to (OC, L) per image. A plane's last partial segment is the 7 pixels that end it (overlapping the one before:
    // the same sums, stored again); an odd last segment runs alone in half a tile. Images split across threads.
    public static void ForwardChannels(float[] x, float[] wt, float[]? b, float[] y, int n, int oc, in Conv2dGeometry g, bool relu)
    {
        if (!UsesChannels(g, oc, 1)) throw new ArgumentException($"PointwiseConv.ForwardChannels: needs AVX-512, a 1x1 stride-1 unpadded kernel, filters a multiple of {2 * V} and {Seg} to {MinPixels - 1} pixels, got a {g.KH}x{g.KW} kernel, stride {g.SH}, padding {g.PH}, {oc} filters and {g.L} pixels.");
        int c = g.C, l = g.L;
        if (x.Length < (long)n * c * l || wt.Length < oc * c || y.Length < (long)n * oc * l || (b is not null && b.Length < oc))
            throw new ArgumentException($"PointwiseConv.ForwardChannels: arrays shorter than the shapes ({n} images, {c} -> {oc} channels, {l} pixels).");
        int segs = (l + Seg - 1) / Seg;
        Parallelism.ForBalancedMacs(n, (_, start, end) =>
        {
            float[] scr = ArrayPool<float>.Shared.Rent(l * oc);
            try
            {
                for (int i = start; i < end; i++)
                {
                    for (int f = 0; f < oc; f += 2 * V)
                        for (int t = 0; t < segs; t += 2)
                        {
                            if (t + 1 < segs) Tile(x, wt, b, scr, i, c, l, oc, f, SegmentStart(t, segs, l), SegmentStart(t + 1, segs, l), relu);
                            else TileHalf(x, wt, b, scr, i, c, l, oc, f, SegmentStart(t, segs, l), relu); // an odd last segment alone
                        }
                    ChannelConv3x3.Transpose(ref scr[0], l, oc, oc, ref y[(long)i * oc * l], l);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scr);
            }
        }, (long)n * oc * c * l);
    }

    // segment t of a plane of l pixels starts at 7 t, the last one at l - 7
    private static int SegmentStart(int t, int segs, int l) => t == segs - 1 ? l - Seg : t * Seg;

    // image i, filters [f, f + 32), pixels [p, p + 7) and [q, q + 7) -> scr rows of those pixels
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(float[] x, float[] wt, float[]? b, float[] scr, int i, int c, int l, int oc, int f, int p, int q, bool relu)
    {
        ref float xa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * l + p);
        ref float xb = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * l + q);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), f);
        Vector512<float> i0 = Vector512<float>.Zero, i1 = Vector512<float>.Zero;
        if (b is not null)
        {
            i0 = Vector512.LoadUnsafe(ref b[f]);
            i1 = Vector512.LoadUnsafe(ref b[f], (nuint)V);
        }
        Vector512<float> a0 = i0, b0 = i1, a1 = i0, b1 = i1, a2 = i0, b2 = i1, a3 = i0, b3 = i1, a4 = i0, b4 = i1, a5 = i0, b5 = i1, a6 = i0, b6 = i1;
        Vector512<float> a7 = i0, b7 = i1, a8 = i0, b8 = i1, a9 = i0, b9 = i1, a10 = i0, b10 = i1, a11 = i0, b11 = i1, a12 = i0, b12 = i1, a13 = i0, b13 = i1;
        nuint k = 0, step = (nuint)oc, v = V, off = 0, ls = (nuint)l;
        for (int ci = 0; ci < c; ci++, k += step, off += ls)
        {
            var w0 = Vector512.LoadUnsafe(ref pw, k);
            var w1 = Vector512.LoadUnsafe(ref pw, k + v);
            var xv = Vector512.Create(Unsafe.Add(ref xa, off)); a0 = Vector512.FusedMultiplyAdd(xv, w0, a0); b0 = Vector512.FusedMultiplyAdd(xv, w1, b0);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 1)); a1 = Vector512.FusedMultiplyAdd(xv, w0, a1); b1 = Vector512.FusedMultiplyAdd(xv, w1, b1);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 2)); a2 = Vector512.FusedMultiplyAdd(xv, w0, a2); b2 = Vector512.FusedMultiplyAdd(xv, w1, b2);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 3)); a3 = Vector512.FusedMultiplyAdd(xv, w0, a3); b3 = Vector512.FusedMultiplyAdd(xv, w1, b3);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 4)); a4 = Vector512.FusedMultiplyAdd(xv, w0, a4); b4 = Vector512.FusedMultiplyAdd(xv, w1, b4);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 5)); a5 = Vector512.FusedMultiplyAdd(xv, w0, a5); b5 = Vector512.FusedMultiplyAdd(xv, w1, b5);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 6)); a6 = Vector512.FusedMultiplyAdd(xv, w0, a6); b6 = Vector512.FusedMultiplyAdd(xv, w1, b6);
            xv = Vector512.Create(Unsafe.Add(ref xb, off)); a7 = Vector512.FusedMultiplyAdd(xv, w0, a7); b7 = Vector512.FusedMultiplyAdd(xv, w1, b7);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + 1)); a8 = Vector512.FusedMultiplyAdd(xv, w0, a8); b8 = Vector512.FusedMultiplyAdd(xv, w1, b8);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + 2)); a9 = Vector512.FusedMultiplyAdd(xv, w0, a9); b9 = Vector512.FusedMultiplyAdd(xv, w1, b9);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + 3)); a10 = Vector512.FusedMultiplyAdd(xv, w0, a10); b10 = Vector512.FusedMultiplyAdd(xv, w1, b10);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + 4)); a11 = Vector512.FusedMultiplyAdd(xv, w0, a11); b11 = Vector512.FusedMultiplyAdd(xv, w1, b11);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + 5)); a12 = Vector512.FusedMultiplyAdd(xv, w0, a12); b12 = Vector512.FusedMultiplyAdd(xv, w1, b12);
            xv = Vector512.Create(Unsafe.Add(ref xb, off + 6)); a13 = Vector512.FusedMultiplyAdd(xv, w0, a13); b13 = Vector512.FusedMultiplyAdd(xv, w1, b13);
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

    // image i, filters [f, f + 32), pixels [p, p + 7) -> scr rows of those pixels: Tile's first half (14 accumulators)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileHalf(float[] x, float[] wt, float[]? b, float[] scr, int i, int c, int l, int oc, int f, int p, bool relu)
    {
        ref float xa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * l + p);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), f);
        Vector512<float> i0 = Vector512<float>.Zero, i1 = Vector512<float>.Zero;
        if (b is not null)
        {
            i0 = Vector512.LoadUnsafe(ref b[f]);
            i1 = Vector512.LoadUnsafe(ref b[f], (nuint)V);
        }
        Vector512<float> a0 = i0, b0 = i1, a1 = i0, b1 = i1, a2 = i0, b2 = i1, a3 = i0, b3 = i1, a4 = i0, b4 = i1, a5 = i0, b5 = i1, a6 = i0, b6 = i1;
        nuint k = 0, step = (nuint)oc, v = V, off = 0, ls = (nuint)l;
        for (int ci = 0; ci < c; ci++, k += step, off += ls)
        {
            var w0 = Vector512.LoadUnsafe(ref pw, k);
            var w1 = Vector512.LoadUnsafe(ref pw, k + v);
            var xv = Vector512.Create(Unsafe.Add(ref xa, off)); a0 = Vector512.FusedMultiplyAdd(xv, w0, a0); b0 = Vector512.FusedMultiplyAdd(xv, w1, b0);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 1)); a1 = Vector512.FusedMultiplyAdd(xv, w0, a1); b1 = Vector512.FusedMultiplyAdd(xv, w1, b1);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 2)); a2 = Vector512.FusedMultiplyAdd(xv, w0, a2); b2 = Vector512.FusedMultiplyAdd(xv, w1, b2);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 3)); a3 = Vector512.FusedMultiplyAdd(xv, w0, a3); b3 = Vector512.FusedMultiplyAdd(xv, w1, b3);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 4)); a4 = Vector512.FusedMultiplyAdd(xv, w0, a4); b4 = Vector512.FusedMultiplyAdd(xv, w1, b4);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 5)); a5 = Vector512.FusedMultiplyAdd(xv, w0, a5); b5 = Vector512.FusedMultiplyAdd(xv, w1, b5);
            xv = Vector512.Create(Unsafe.Add(ref xa, off + 6)); a6 = Vector512.FusedMultiplyAdd(xv, w0, a6); b6 = Vector512.FusedMultiplyAdd(xv, w1, b6);
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
