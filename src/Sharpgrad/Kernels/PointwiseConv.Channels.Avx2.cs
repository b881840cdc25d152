using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

// AVX2's channel-vectorized 1x1 tile: one register of 8 filters by two 7-pixel segments (14 accumulators + a weight
// register + a broadcast = 16 registers), as ChannelConv3x3.TileNarrow; the 512-bit Tile's two filter registers would
// need 17 with one segment
internal static partial class PointwiseConv
{
    private const int V256Channels = 8;

    /// <summary>Whether AVX2 keeps the GEMM and the pixel-vectorized form where <see cref="ForwardChannels"/> would run: the benchmarks' switch, off otherwise.</summary>
    internal static bool ChannelsAvx2Off;

    // image i (planes of hw input pixels), filters [f, f + 8), output pixels [p, p + 7) and [q, q + 7), which read the
    // input pixels ia + S j and ib + S j -> scr rows of those output pixels; each output's sum as the 512-bit Tile's
    // (bias, then the input channels in order)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256<TS>(float[] x, float[] wt, float[]? b, float[] scr, int i, int c, int hw, int oc, int f, int ia, int ib, int p, int q, bool relu)
        where TS : struct, IStep
    {
        ref float xa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * hw + ia);
        ref float xb = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * hw + ib);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), f);
        Vector256<float> i0 = b is null ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref b[f]);
        Vector256<float> a0 = i0, a1 = i0, a2 = i0, a3 = i0, a4 = i0, a5 = i0, a6 = i0, a7 = i0, a8 = i0, a9 = i0, a10 = i0, a11 = i0, a12 = i0, a13 = i0;
        nuint k = 0, step = (nuint)oc, off = 0, ls = (nuint)hw;
        for (int ci = 0; ci < c; ci++, k += step, off += ls)
        {
            var w0 = Vector256.LoadUnsafe(ref pw, k);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off)), w0, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(1 * TS.S))), w0, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(2 * TS.S))), w0, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(3 * TS.S))), w0, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(4 * TS.S))), w0, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(5 * TS.S))), w0, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(6 * TS.S))), w0, a6);
            a7 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xb, off)), w0, a7);
            a8 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xb, off + (nuint)(1 * TS.S))), w0, a8);
            a9 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xb, off + (nuint)(2 * TS.S))), w0, a9);
            a10 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xb, off + (nuint)(3 * TS.S))), w0, a10);
            a11 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xb, off + (nuint)(4 * TS.S))), w0, a11);
            a12 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xb, off + (nuint)(5 * TS.S))), w0, a12);
            a13 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xb, off + (nuint)(6 * TS.S))), w0, a13);
        }
        ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), p * oc + f);
        ref float db = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), q * oc + f);
        nuint o = (nuint)oc;
        // the second segment first: where it repeats or overlaps the first, the values are the same
        Put256(a7, ref db, 0 * o, relu); Put256(a8, ref db, 1 * o, relu); Put256(a9, ref db, 2 * o, relu); Put256(a10, ref db, 3 * o, relu);
        Put256(a11, ref db, 4 * o, relu); Put256(a12, ref db, 5 * o, relu); Put256(a13, ref db, 6 * o, relu);
        Put256(a0, ref da, 0 * o, relu); Put256(a1, ref da, 1 * o, relu); Put256(a2, ref da, 2 * o, relu); Put256(a3, ref da, 3 * o, relu);
        Put256(a4, ref da, 4 * o, relu); Put256(a5, ref da, 5 * o, relu); Put256(a6, ref da, 6 * o, relu);
    }

    // image i, filters [f, f + 8), output pixels [p, p + 7) reading input pixels ia + S j -> scr rows of those pixels:
    // Tile256's first half (7 accumulators)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileHalf256<TS>(float[] x, float[] wt, float[]? b, float[] scr, int i, int c, int hw, int oc, int f, int ia, int p, bool relu)
        where TS : struct, IStep
    {
        ref float xa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * hw + ia);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), f);
        Vector256<float> i0 = b is null ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref b[f]);
        Vector256<float> a0 = i0, a1 = i0, a2 = i0, a3 = i0, a4 = i0, a5 = i0, a6 = i0;
        nuint k = 0, step = (nuint)oc, off = 0, ls = (nuint)hw;
        for (int ci = 0; ci < c; ci++, k += step, off += ls)
        {
            var w0 = Vector256.LoadUnsafe(ref pw, k);
            a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off)), w0, a0);
            a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(1 * TS.S))), w0, a1);
            a2 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(2 * TS.S))), w0, a2);
            a3 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(3 * TS.S))), w0, a3);
            a4 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(4 * TS.S))), w0, a4);
            a5 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(5 * TS.S))), w0, a5);
            a6 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref xa, off + (nuint)(6 * TS.S))), w0, a6);
        }
        ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), p * oc + f);
        nuint o = (nuint)oc;
        Put256(a0, ref da, 0 * o, relu); Put256(a1, ref da, 1 * o, relu); Put256(a2, ref da, 2 * o, relu); Put256(a3, ref da, 3 * o, relu);
        Put256(a4, ref da, 4 * o, relu); Put256(a5, ref da, 5 * o, relu); Put256(a6, ref da, 6 * o, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put256(Vector256<float> a, ref float dst, nuint at, bool relu)
    {
        if (relu) a = Vector256.Max(a, Vector256<float>.Zero);
        a.StoreUnsafe(ref dst, at);
    }
}
