using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpgrad.Kernels;

// The input gradient of DepthwiseConv2d: dx gathered from the padded dy plane (no scattered writes).
internal static partial class DepthwiseConv2d
{
    // InputGradientPlane for 3x3 stride 1: rows whose three dy rows all exist (h + PH - kh in [0, OH) for kh = 0..2) four
    // at a time, each a chain of nine multiply-adds in the general loop's order (kh, then kw: bitwise the same), so
    // four chains are in flight instead of one; the rows at the borders through the general loop
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientPlane3x3<T, TL, TV>(T[] dyp, ReadOnlySpan<T> w, Span<T> dx, in Conv2dGeometry g, in Layout lay, Span<T> tmp)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        // interior rows: q = h + PH - kh in [0, OH) for kh = 0..2, i.e. h in [2 - PH, OH - PH)
        int lo = Math.Max(0, 2 - g.PH), hi = Math.Min(g.H, g.OH - g.PH);
        if (hi - lo < 4)
        {
            InputGradientPlane<T, TL, TV>(dyp, w, dx, g, lay, tmp);
            return;
        }
        ref T pd = ref MemoryMarshal.GetArrayDataReference(dyp);
        int v = TL.Count, dw = lay.Dw, tlo = g.PW, thi = g.PW + g.W;
        TV w0 = TL.Broadcast(w[0]), w1 = TL.Broadcast(w[1]), w2 = TL.Broadcast(w[2]);
        TV w3 = TL.Broadcast(w[3]), w4 = TL.Broadcast(w[4]), w5 = TL.Broadcast(w[5]);
        TV w6 = TL.Broadcast(w[6]), w7 = TL.Broadcast(w[7]), w8 = TL.Broadcast(w[8]);
        InputGradientRows<T, TL, TV>(dyp, w, dx, g, lay, tmp, 0, lo);
        int h = lo;
        for (; h + 4 <= hi; h += 4)
        {
            // dy row of kh for input row h: q = h + PH - kh; the four rows' chains share those rows shifted by one
            // (each ref two columns early, so the taps t0 - kw read at u + 2 - kw)
            ref T a0 = ref Unsafe.Add(ref pd, (h + g.PH) * dw + lay.L0 - 2);
            ref T a1 = ref Unsafe.Add(ref a0, -dw);
            ref T a2 = ref Unsafe.Add(ref a1, -dw);
            ref T b0 = ref Unsafe.Add(ref a0, dw);
            ref T b1 = ref a0;
            ref T b2 = ref a1;
            ref T c0 = ref Unsafe.Add(ref b0, dw);
            ref T c1 = ref b0;
            ref T c2 = ref a0;
            ref T d0 = ref Unsafe.Add(ref c0, dw);
            ref T d1 = ref c0;
            ref T d2 = ref b0;
            for (int t0 = tlo; t0 < thi; t0 += v)
            {
                nuint u = (nuint)t0;
                TV ya = TL.Zero;
                ya = TL.MultiplyAdd(w0, TL.Load(ref a0, u + 2), ya);
                ya = TL.MultiplyAdd(w1, TL.Load(ref a0, u + 1), ya);
                ya = TL.MultiplyAdd(w2, TL.Load(ref a0, u + 0), ya);
                ya = TL.MultiplyAdd(w3, TL.Load(ref a1, u + 2), ya);
                ya = TL.MultiplyAdd(w4, TL.Load(ref a1, u + 1), ya);
                ya = TL.MultiplyAdd(w5, TL.Load(ref a1, u + 0), ya);
                ya = TL.MultiplyAdd(w6, TL.Load(ref a2, u + 2), ya);
                ya = TL.MultiplyAdd(w7, TL.Load(ref a2, u + 1), ya);
                ya = TL.MultiplyAdd(w8, TL.Load(ref a2, u + 0), ya);
                TV yb = TL.Zero;
                yb = TL.MultiplyAdd(w0, TL.Load(ref b0, u + 2), yb);
                yb = TL.MultiplyAdd(w1, TL.Load(ref b0, u + 1), yb);
                yb = TL.MultiplyAdd(w2, TL.Load(ref b0, u + 0), yb);
                yb = TL.MultiplyAdd(w3, TL.Load(ref b1, u + 2), yb);
                yb = TL.MultiplyAdd(w4, TL.Load(ref b1, u + 1), yb);
                yb = TL.MultiplyAdd(w5, TL.Load(ref b1, u + 0), yb);
                yb = TL.MultiplyAdd(w6, TL.Load(ref b2, u + 2), yb);
                yb = TL.MultiplyAdd(w7, TL.Load(ref b2, u + 1), yb);
                yb = TL.MultiplyAdd(w8, TL.Load(ref b2, u + 0), yb);
                TV yc = TL.Zero;
                yc = TL.MultiplyAdd(w0, TL.Load(ref c0, u + 2), yc);
                yc = TL.MultiplyAdd(w1, TL.Load(ref c0, u + 1), yc);
                yc = TL.MultiplyAdd(w2, TL.Load(ref c0, u + 0), yc);
                yc = TL.MultiplyAdd(w3, TL.Load(ref c1, u + 2), yc);
                yc = TL.MultiplyAdd(w4, TL.Load(ref c1, u + 1), yc);
                yc = TL.MultiplyAdd(w5, TL.Load(ref c1, u + 0), yc);
                yc = TL.MultiplyAdd(w6, TL.Load(ref c2, u + 2), yc);
                yc = TL.MultiplyAdd(w7, TL.Load(ref c2, u + 1), yc);
                yc = TL.MultiplyAdd(w8, TL.Load(ref c2, u + 0), yc);
                TV yd = TL.Zero;
                yd = TL.MultiplyAdd(w0, TL.Load(ref d0, u + 2), yd);
                yd = TL.MultiplyAdd(w1, TL.Load(ref d0, u + 1), yd);
                yd = TL.MultiplyAdd(w2, TL.Load(ref d0, u + 0), yd);
                yd = TL.MultiplyAdd(w3, TL.Load(ref d1, u + 2), yd);
                yd = TL.MultiplyAdd(w4, TL.Load(ref d1, u + 1), yd);
                yd = TL.MultiplyAdd(w5, TL.Load(ref d1, u + 0), yd);
                yd = TL.MultiplyAdd(w6, TL.Load(ref d2, u + 2), yd);
                yd = TL.MultiplyAdd(w7, TL.Load(ref d2, u + 1), yd);
                yd = TL.MultiplyAdd(w8, TL.Load(ref d2, u + 0), yd);
                int cols = Math.Min(v, thi - t0);
                StoreRow<T, TL, TV>(ya, dx, h * g.W + t0 - g.PW, cols, tmp);
                StoreRow<T, TL, TV>(yb, dx, (h + 1) * g.W + t0 - g.PW, cols, tmp);
                StoreRow<T, TL, TV>(yc, dx, (h + 2) * g.W + t0 - g.PW, cols, tmp);
                StoreRow<T, TL, TV>(yd, dx, (h + 3) * g.W + t0 - g.PW, cols, tmp);
            }
        }
        // the remaining rows (interior and bottom border) through the general loop on the plane from row h
        InputGradientRows<T, TL, TV>(dyp, w, dx, g, lay, tmp, h, g.H);
    }

    // dyp: padded dy plane, w: (KH,KW) -> dx: (H,W). Input column j sits at padded column j + PW, phase
    // r = (j + PW) % SW, index t = (j + PW) / SW; it receives w[kh, kw] dy[p, t - kw / SW] from every kh with
    // (h + PH - kh) = p SH, 0 <= p < OH, and every kw with kw % SW = r (dyp's zeros stand for q outside [0, OW))
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientPlane<T, TL, TV>(T[] dyp, ReadOnlySpan<T> w, Span<T> dx, in Conv2dGeometry g, in Layout lay, Span<T> tmp)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct =>
        InputGradientRows<T, TL, TV>(dyp, w, dx, g, lay, tmp, 0, g.H);

    // InputGradientPlane for the input rows [hStart, hEnd)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientRows<T, TL, TV>(T[] dyp, ReadOnlySpan<T> w, Span<T> dx, in Conv2dGeometry g, in Layout lay, Span<T> tmp, int hStart, int hEnd)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        ref T pd = ref MemoryMarshal.GetArrayDataReference(dyp);
        int v = TL.Count, sw = g.SW, sh = g.SH, oh = g.OH, kH = g.KH, kW = g.KW, dw = lay.Dw, l0 = lay.L0;
        if (sw == 2 && typeof(T) == typeof(float) && v == 16 && Avx512F.IsSupported) // a forced 16-lane path without AVX-512 runs the generic rows
        {
            InputGradientRowsStride2((float[])(object)dyp, MemoryMarshal.Cast<T, float>(w), MemoryMarshal.Cast<T, float>(dx), g, lay, hStart, hEnd);
            return;
        }
        for (int h = hStart; h < hEnd; h++)
        {
            int rr = h + g.PH;
            var dxRow = dx.Slice(h * g.W, g.W);
            for (int r = 0; r < sw; r++)
            {
                int tlo = Math.Max(0, (g.PW - r + sw - 1) / sw), thi = (g.PW + g.W - r + sw - 1) / sw;
                for (int t0 = tlo; t0 < thi; t0 += v)
                {
                    TV acc = TL.Zero;
                    // q = rr - kh = qd SH + qm, stepped down without a division per tap (they were most of the
                    // stride-2 backward's time); kw = r + o SW, so kw / SW = o
                    int qd = rr / sh, qm = rr % sh;
                    for (int kh = 0; kh < kH; kh++)
                    {
                        if (kh > 0 && --qm < 0)
                        {
                            qm = sh - 1;
                            qd--;
                        }
                        if (qd < 0) break;
                        if (qm != 0 || qd >= oh) continue;
                        int dr = qd * dw + l0 + t0;
                        for (int kw = r, o = 0; kw < kW; kw += sw, o++)
                            acc = TL.MultiplyAdd(TL.Broadcast(w[kh * kW + kw]), TL.Load(ref pd, (nuint)(dr - o)), acc);
                    }
                    int cols = Math.Min(v, thi - t0);
                    if (sw == 1) StoreRow<T, TL, TV>(acc, dxRow, t0 - g.PW, cols, tmp);
                    else
                    {
                        TL.Store(acc, ref MemoryMarshal.GetReference(tmp), 0);
                        for (int e = 0; e < cols; e++) dxRow[r + sw * (t0 + e) - g.PW] = tmp[e];
                    }
                }
            }
        }
    }

    // InputGradientRows for column stride 2, float32 on 512-bit registers: each 32-column block of a dx row is the two
    // column phases' registers (the sums of the general loop, in its order: bitwise the same) interleaved by two
    // two-source permutes and stored whole, instead of sixteen element stores per register. Measured against the
    // general loop in one process (14 pairs of 60 ms windows, batch 128, two threads): mobilenet's 32-channel 28x28
    // and 64-channel 14x14 stride-2 backward 1.95x / 2.11x and 1.62x / 1.54x faster
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientRowsStride2(float[] dyp, ReadOnlySpan<float> w, Span<float> dx, in Conv2dGeometry g, in Layout lay, int hStart, int hEnd)
    {
        int sh = g.SH, oh = g.OH, kH = g.KH, kW = g.KW, dw = lay.Dw, l0 = lay.L0, pw = g.PW, width = g.W;
        if (w.Length < kH * kW || dx.Length < hEnd * width || hEnd > g.H) throw new ArgumentException("DepthwiseConv2d.InputGradientRowsStride2: spans too short for the geometry.");
        ref float pd = ref MemoryMarshal.GetArrayDataReference(dyp);
        ref float pwt = ref MemoryMarshal.GetReference(w);
        ref float px = ref MemoryMarshal.GetReference(dx);
        var lowLanes = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        var highLanes = lowLanes + Vector512.Create(8);
        Span<int> rows = stackalloc int[kH]; // the dy row of each kernel row that reaches this dx row, -1 for none
        for (int h = hStart; h < hEnd; h++)
        {
            int qd = (h + g.PH) / sh, qm = (h + g.PH) % sh;
            for (int kh = 0; kh < kH; kh++)
            {
                if (kh > 0 && --qm < 0)
                {
                    qm = sh - 1;
                    qd--;
                }
                rows[kh] = qd >= 0 && qm == 0 && qd < oh ? qd * dw + l0 : -1;
            }
            ref float dxRow = ref Unsafe.Add(ref px, h * width);
            for (int j0 = 0; j0 < width; j0 += 32)
            {
                var even = Phase(ref pd, ref pwt, rows, kW, j0 + pw);
                var odd = j0 + 1 < width ? Phase(ref pd, ref pwt, rows, kW, j0 + 1 + pw) : Vector512<float>.Zero;
                var lo = Avx512F.PermuteVar16x32x2(even, lowLanes, odd);
                int cols = Math.Min(32, width - j0);
                if (cols >= 16)
                {
                    lo.StoreUnsafe(ref dxRow, (nuint)j0);
                    var hi = Avx512F.PermuteVar16x32x2(even, highLanes, odd);
                    if (cols == 32) hi.StoreUnsafe(ref dxRow, (nuint)(j0 + 16));
                    else if (cols > 16) MaskedStore.Store512(hi, ref Unsafe.Add(ref dxRow, j0 + 16), MaskedStore.FirstLanes512<float>(cols - 16));
                }
                else MaskedStore.Store512(lo, ref Unsafe.Add(ref dxRow, j0), MaskedStore.FirstLanes512<float>(cols));
            }
        }
    }

    // the 16 dx values at padded columns pc, pc + 2, ..., pc + 30 (one column phase): for each kernel row that
    // reaches the dx row, its taps of that phase (kw = pc % 2, + 2, ...), kernel rows then taps in order
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Phase(ref float pd, ref float pwt, ReadOnlySpan<int> rows, int kW, int pc)
    {
        int r = pc & 1, t = pc >> 1;
        var acc = Vector512<float>.Zero;
        for (int kh = 0; kh < rows.Length; kh++)
        {
            int dr = rows[kh];
            if (dr < 0) continue;
            for (int kw = r, o = 0; kw < kW; kw += 2, o++)
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref pwt, kh * kW + kw)), Vector512.LoadUnsafe(ref pd, (nuint)(dr + t - o)), acc);
        }
        return acc;
    }
}
