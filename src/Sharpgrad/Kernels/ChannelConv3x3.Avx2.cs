using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sharpgrad.Kernels;

// AVX2's tiles: 16 vector registers hold one register of filters by one segment input-stationary by kernel row at
// stride 1 (TileRowIS, TileRowIS8 on 8-pixel segments) or by two segments at stride 2 (TileNarrow), not Tile's 28
// accumulators
internal static partial class ChannelConv3x3
{
    /// <summary>Whether AVX2's stride-1 tiles run <see cref="TileNarrow"/> instead of <see cref="TileRowIS"/>: the benchmarks' switch, off otherwise.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (Predict at batch 256, alternating windows in one process, least
    // of each): resnet8 1.13x (median 1.17x), cnn3 1.06x (1.09x) with TileRowIS
    internal static bool RowISOff;

    // stride 1, each segment t (7 output pixels of one row) x output channels [o0, o0 + V) -> scr rows of its pixels.
    // Input-stationary by kernel row: each (ci, kh) loads its 3 weight registers and broadcasts the 9 input values of
    // the row once, each feeding the up to 3 outputs it touches (21 multiply-adds for 12 loads, where TileNarrow has a
    // broadcast per multiply-add); 7 accumulators + 3 weights + 1 broadcast = 11 registers. Each output's sums run in
    // (ci, kh, kw) order, as TileNarrow's; clamped when relu
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileRowIS<TL, TV>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, in Layout lay, bool relu, int o0, int tStart, int tEnd)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        // the segments [tStart, tEnd) in one call: a first layer's tile (one input channel, 63 multiply-adds) cost about
        // as much in the call around it as inside
        int spr = lay.SegsPerRow, wp = lay.Wp, plane = lay.Plane, owp = lay.OWp;
        TV i0 = b is null ? TL.Zero : TL.Load(ref MemoryMarshal.GetArrayDataReference(b), (nuint)o0);
        for (int t = tStart; t < tEnd; t++)
        {
            int r = t / spr, q = t % spr * Seg;
            ref float px = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(pad), r * wp + q);
            ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), o0);
            ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), (r * owp + q) * oc + o0);
            TV a0 = i0, a1 = i0, a2 = i0, a3 = i0, a4 = i0, a5 = i0, a6 = i0;
            TV x, w0, w1, w2;
            nuint step = (nuint)oc, k = 0;
            for (int ci = 0; ci < c; ci++)
            {
                ref float xc = ref Unsafe.Add(ref px, ci * plane);
                for (int kh = 0; kh < 3; kh++, k += 3 * step)
                {
                    ref float xr = ref Unsafe.Add(ref xc, kh * wp);
                    w0 = TL.Load(ref pw, k); w1 = TL.Load(ref pw, k + step); w2 = TL.Load(ref pw, k + 2 * step);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 0)); a0 = TL.MultiplyAdd(x, w0, a0);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 1)); a1 = TL.MultiplyAdd(x, w0, a1); a0 = TL.MultiplyAdd(x, w1, a0);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 2)); a2 = TL.MultiplyAdd(x, w0, a2); a1 = TL.MultiplyAdd(x, w1, a1); a0 = TL.MultiplyAdd(x, w2, a0);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 3)); a3 = TL.MultiplyAdd(x, w0, a3); a2 = TL.MultiplyAdd(x, w1, a2); a1 = TL.MultiplyAdd(x, w2, a1);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 4)); a4 = TL.MultiplyAdd(x, w0, a4); a3 = TL.MultiplyAdd(x, w1, a3); a2 = TL.MultiplyAdd(x, w2, a2);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 5)); a5 = TL.MultiplyAdd(x, w0, a5); a4 = TL.MultiplyAdd(x, w1, a4); a3 = TL.MultiplyAdd(x, w2, a3);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 6)); a6 = TL.MultiplyAdd(x, w0, a6); a5 = TL.MultiplyAdd(x, w1, a5); a4 = TL.MultiplyAdd(x, w2, a4);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 7)); a6 = TL.MultiplyAdd(x, w1, a6); a5 = TL.MultiplyAdd(x, w2, a5);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 8)); a6 = TL.MultiplyAdd(x, w2, a6);
                }
            }
            if (relu)
            {
                var z = TL.Zero;
                a0 = TL.Max(a0, z);
                a1 = TL.Max(a1, z);
                a2 = TL.Max(a2, z);
                a3 = TL.Max(a3, z);
                a4 = TL.Max(a4, z);
                a5 = TL.Max(a5, z);
                a6 = TL.Max(a6, z);
            }
            TL.Store(a0, ref da, (nuint)(0 * oc));
            TL.Store(a1, ref da, (nuint)(1 * oc));
            TL.Store(a2, ref da, (nuint)(2 * oc));
            TL.Store(a3, ref da, (nuint)(3 * oc));
            TL.Store(a4, ref da, (nuint)(4 * oc));
            TL.Store(a5, ref da, (nuint)(5 * oc));
            TL.Store(a6, ref da, (nuint)(6 * oc));
        }
    }

    // TileRowIS on segments of 8 pixels (a Layout with SegLen 8): 8 accumulators + 3 weights + 1 broadcast = 12
    // registers, 10 broadcasts for 24 multiply-adds; the same sums in the same order
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileRowIS8<TL, TV>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, in Layout lay, bool relu, int o0, int tStart, int tEnd)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        int spr = lay.SegsPerRow, wp = lay.Wp, plane = lay.Plane, owp = lay.OWp;
        TV i0 = b is null ? TL.Zero : TL.Load(ref MemoryMarshal.GetArrayDataReference(b), (nuint)o0);
        for (int t = tStart; t < tEnd; t++)
        {
            int r = t / spr, q = t % spr * 8;
            ref float px = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(pad), r * wp + q);
            ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), o0);
            ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), (r * owp + q) * oc + o0);
            TV a0 = i0, a1 = i0, a2 = i0, a3 = i0, a4 = i0, a5 = i0, a6 = i0, a7 = i0;
            TV x, w0, w1, w2;
            nuint step = (nuint)oc, k = 0;
            for (int ci = 0; ci < c; ci++)
            {
                ref float xc = ref Unsafe.Add(ref px, ci * plane);
                for (int kh = 0; kh < 3; kh++, k += 3 * step)
                {
                    ref float xr = ref Unsafe.Add(ref xc, kh * wp);
                    w0 = TL.Load(ref pw, k); w1 = TL.Load(ref pw, k + step); w2 = TL.Load(ref pw, k + 2 * step);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 0)); a0 = TL.MultiplyAdd(x, w0, a0);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 1)); a1 = TL.MultiplyAdd(x, w0, a1); a0 = TL.MultiplyAdd(x, w1, a0);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 2)); a2 = TL.MultiplyAdd(x, w0, a2); a1 = TL.MultiplyAdd(x, w1, a1); a0 = TL.MultiplyAdd(x, w2, a0);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 3)); a3 = TL.MultiplyAdd(x, w0, a3); a2 = TL.MultiplyAdd(x, w1, a2); a1 = TL.MultiplyAdd(x, w2, a1);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 4)); a4 = TL.MultiplyAdd(x, w0, a4); a3 = TL.MultiplyAdd(x, w1, a3); a2 = TL.MultiplyAdd(x, w2, a2);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 5)); a5 = TL.MultiplyAdd(x, w0, a5); a4 = TL.MultiplyAdd(x, w1, a4); a3 = TL.MultiplyAdd(x, w2, a3);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 6)); a6 = TL.MultiplyAdd(x, w0, a6); a5 = TL.MultiplyAdd(x, w1, a5); a4 = TL.MultiplyAdd(x, w2, a4);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 7)); a7 = TL.MultiplyAdd(x, w0, a7); a6 = TL.MultiplyAdd(x, w1, a6); a5 = TL.MultiplyAdd(x, w2, a5);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 8)); a7 = TL.MultiplyAdd(x, w1, a7); a6 = TL.MultiplyAdd(x, w2, a6);
                    x = TL.Broadcast(Unsafe.Add(ref xr, 9)); a7 = TL.MultiplyAdd(x, w2, a7);
                }
            }
            if (relu)
            {
                var z = TL.Zero;
                a0 = TL.Max(a0, z);
                a1 = TL.Max(a1, z);
                a2 = TL.Max(a2, z);
                a3 = TL.Max(a3, z);
                a4 = TL.Max(a4, z);
                a5 = TL.Max(a5, z);
                a6 = TL.Max(a6, z);
                a7 = TL.Max(a7, z);
            }
            TL.Store(a0, ref da, (nuint)(0 * oc));
            TL.Store(a1, ref da, (nuint)(1 * oc));
            TL.Store(a2, ref da, (nuint)(2 * oc));
            TL.Store(a3, ref da, (nuint)(3 * oc));
            TL.Store(a4, ref da, (nuint)(4 * oc));
            TL.Store(a5, ref da, (nuint)(5 * oc));
            TL.Store(a6, ref da, (nuint)(6 * oc));
            TL.Store(a7, ref da, (nuint)(7 * oc));
        }
    }

    // segments t and u (7 output pixels each) x output channels [o0, o0 + V) -> scr rows of their pixels: 14
    // accumulators, each (ci, kh, kw) step one weight load and 14 broadcasts for 14 multiply-adds, 16 registers in all
    // (AVX2's tile; the same sums in the same order as Tile). Measured on a 2-core AMD EPYC without AVX-512 (Predict at
    // batch 256, alternating windows in one process): resnet8 1.44x the row kernel (DirectConv3x3); two registers by
    // one segment (TileHalf, 17 registers) 0.76x this. Clamped when relu
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileNarrow<TL, TV, TS>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, in Layout lay, bool relu, int o0, int t, int u)
        where TL : struct, ILanes<TV, float> where TV : struct where TS : struct, IStride
    {
        int spr = lay.SegsPerRow, wp = lay.Wp, plane = lay.Plane, owp = lay.OWp;
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float ps = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float xa = ref Unsafe.Add(ref px, t / spr * TS.S * wp + t % spr * Seg * TS.S);
        ref float xb = ref Unsafe.Add(ref px, u / spr * TS.S * wp + u % spr * Seg * TS.S);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), o0);
        ref float da = ref Unsafe.Add(ref ps, (t / spr * owp + t % spr * Seg) * oc + o0);
        ref float db = ref Unsafe.Add(ref ps, (u / spr * owp + u % spr * Seg) * oc + o0);
        TV i0 = b is null ? TL.Zero : TL.Load(ref MemoryMarshal.GetArrayDataReference(b), (nuint)o0);
        TV a0 = i0, a1 = i0, a2 = i0, a3 = i0, a4 = i0, a5 = i0, a6 = i0, a7 = i0, a8 = i0, a9 = i0, a10 = i0, a11 = i0, a12 = i0, a13 = i0;
        TV w0;
        nuint k = 0, step = (nuint)oc;
        for (int ci = 0; ci < c; ci++)
            for (int kh = 0; kh < 3; kh++)
            {
                nuint off = (nuint)(ci * plane + kh * wp);
                for (int kw = 0; kw < 3; kw++, off++, k += step)
                {
                    w0 = TL.Load(ref pw, k);
                    a0 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(0 * TS.S))), w0, a0);
                    a1 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(1 * TS.S))), w0, a1);
                    a2 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(2 * TS.S))), w0, a2);
                    a3 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(3 * TS.S))), w0, a3);
                    a4 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(4 * TS.S))), w0, a4);
                    a5 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(5 * TS.S))), w0, a5);
                    a6 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(6 * TS.S))), w0, a6);
                    a7 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(0 * TS.S))), w0, a7);
                    a8 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(1 * TS.S))), w0, a8);
                    a9 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(2 * TS.S))), w0, a9);
                    a10 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(3 * TS.S))), w0, a10);
                    a11 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(4 * TS.S))), w0, a11);
                    a12 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(5 * TS.S))), w0, a12);
                    a13 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(6 * TS.S))), w0, a13);
                }
            }
        if (relu)
        {
            var z = TL.Zero;
            a0 = TL.Max(a0, z);
            a1 = TL.Max(a1, z);
            a2 = TL.Max(a2, z);
            a3 = TL.Max(a3, z);
            a4 = TL.Max(a4, z);
            a5 = TL.Max(a5, z);
            a6 = TL.Max(a6, z);
            a7 = TL.Max(a7, z);
            a8 = TL.Max(a8, z);
            a9 = TL.Max(a9, z);
            a10 = TL.Max(a10, z);
            a11 = TL.Max(a11, z);
            a12 = TL.Max(a12, z);
            a13 = TL.Max(a13, z);
        }
        TL.Store(a0, ref da, (nuint)(0 * oc));
        TL.Store(a1, ref da, (nuint)(1 * oc));
        TL.Store(a2, ref da, (nuint)(2 * oc));
        TL.Store(a3, ref da, (nuint)(3 * oc));
        TL.Store(a4, ref da, (nuint)(4 * oc));
        TL.Store(a5, ref da, (nuint)(5 * oc));
        TL.Store(a6, ref da, (nuint)(6 * oc));
        TL.Store(a7, ref db, (nuint)(0 * oc));
        TL.Store(a8, ref db, (nuint)(1 * oc));
        TL.Store(a9, ref db, (nuint)(2 * oc));
        TL.Store(a10, ref db, (nuint)(3 * oc));
        TL.Store(a11, ref db, (nuint)(4 * oc));
        TL.Store(a12, ref db, (nuint)(5 * oc));
        TL.Store(a13, ref db, (nuint)(6 * oc));
    }
}
