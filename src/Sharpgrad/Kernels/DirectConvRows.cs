using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>
/// Direct stride-1 convolution for small reductions (C KH KW at most <see cref="MaxReduction"/>) and output rows of
/// at most two 512-bit registers: LeNet-5's 5x5 layers, where im2col wrote 25-150 values per output pixel for as many
/// multiply-adds and took 30% of the model's batch-256 inference. Two output rows of four filters are held in up to
/// 16 registers; a (channel, kernel row, kernel column) step broadcasts the four filters' weight once and loads each
/// row's input (shifted by the column) once. The input is copied into a zero-padded plane per image first. On AVX2
/// (DirectConvRows.Avx2.cs) the output is computed on flat rows of the padded width instead, two filters by six
/// registers a step, so any width fills the registers; there the kernel runs every non-3x3 stride-1 convolution of a
/// small reduction (LeNet-5's layers took 26% of its batch-256 inference in im2col and 15% in a separate pooling).
/// </summary>
internal static partial class DirectConvRows
{
    /// <summary>The largest C KH KW this kernel takes (beyond it the GEMM's reduction is long enough to pay for im2col).</summary>
    public const int MaxReduction = 160;

    private const int V = 16; // floats a 512-bit register holds

    /// <summary>
    /// Whether the kernel applies: float32, stride 1, one group, a kernel larger than 1x1, C KH KW at most
    /// <see cref="MaxReduction"/>, and OW at most 32 on 512-bit registers or, on 256-bit ones (the flat-row form of
    /// DirectConvRows.Avx2.cs), any width and a kernel other than 3x3 (those stay on the 3x3 kernels).
    /// </summary>
    public static bool Applies(in Conv2dGeometry g, int groups) =>
        groups == 1 && g.SH == 1 && g.SW == 1 && g.KH * g.KW > 1 && g.Ckk <= MaxReduction && g.OH >= 1 && g.OW >= 1
        && (Conv2dKernels.Path == Gemm.KernelPath.Vector512 && g.OW <= 2 * V
            || Conv2dKernels.Path == Gemm.KernelPath.Vector256 && !Avx2Off && !(g.KH == 3 && g.KW == 3));

    // x: (N,C,H,W), w: (OC,C,KH,KW), b: (OC)? -> y: (N,OC,OH,OW), max(y, 0) when relu; images split over the threads.
    // pool: y: (N,OC,OH/2,OW/2) = max_pool2d(relu(conv), 2) (stride 2, floor) as the rows leave their registers, then
    // y * scale[o] + shift[o] when given (a multiply, then an add: the unfused ops' roundings)
    public static void Forward(float[] x, float[] w, float[]? b, float[] y, int n, int oc, Conv2dGeometry g, bool relu, bool pool = false,
        float[]? scale = null, float[]? shift = null)
    {
        if (!Applies(g, 1)) throw new ArgumentException($"DirectConvRows.Forward: needs stride 1, a kernel larger than 1x1, C*KH*KW <= {MaxReduction}, and OW <= {2 * V} on 512-bit registers or a kernel other than 3x3 on 256-bit ones, got {g}.");
        if (pool && (!relu || g.OH < 2 || g.OW < 2)) throw new ArgumentException($"DirectConvRows.Forward: pooling needs the ReLU and an output of at least 2x2, got {g.OH}x{g.OW}.");
        if ((scale is null) != (shift is null) || (scale is not null && !pool)) throw new ArgumentException("DirectConvRows.Forward: a scale and a shift come together, after pooling.");
        if (Conv2dKernels.Path == Gemm.KernelPath.Vector256)
        {
            Forward256(x, w, b, y, n, oc, g, relu, pool, scale, shift);
            return;
        }
        int xs = g.C * g.H * g.W, ys = pool ? oc * (g.OH / 2) * (g.OW / 2) : oc * g.L;
        // padded plane: H + 2 PH rows of Wp floats, Wp wide enough for two registers read at any kernel column
        int hp = g.H + 2 * g.PH, wp = Math.Max(g.W + 2 * g.PW, 2 * V + g.KW - 1), plane = hp * wp;
        Parallelism.ForBalancedMacs(n, (_, start, end) =>
        {
            float[] pad = ArrayPool<float>.Shared.Rent(g.C * plane);
            try
            {
                pad.AsSpan(0, g.C * plane).Clear();
                for (int i = start; i < end; i++)
                {
                    CopyPadded(x.AsSpan(i * xs, xs), g, pad, wp, plane);
                    Image(pad, w, b, y.AsSpan(i * ys, ys), oc, g, wp, plane, relu, pool, scale, shift);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
            }
        }, (long)n * oc * g.L * g.Ckk);
    }

    // x: (C,H,W), one image -> the interior of pad: (C, H + 2PH, wp) at row PH, column PW (the borders left as they are)
    private static void CopyPadded(ReadOnlySpan<float> x, in Conv2dGeometry g, float[] pad, int wp, int plane)
    {
        for (int ci = 0; ci < g.C; ci++)
            for (int r = 0; r < g.H; r++)
                x.Slice((ci * g.H + r) * g.W, g.W).CopyTo(pad.AsSpan(ci * plane + (r + g.PH) * wp + g.PW, g.W));
    }

    // pad: (C, H + 2PH, wp) -> y: (OC, OH, OW) for one image: four filters by two output rows (by one or two
    // registers of columns) a step, so each weight broadcast feeds two or four multiply-adds and each input load four
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image(float[] pad, float[] w, float[]? b, Span<float> y, int oc, in Conv2dGeometry g, int wp, int plane, bool relu,
        bool pool, float[]? scale, float[]? shift)
    {
        int c = g.C, kh = g.KH, kw = g.KW, oh = g.OH, ow = g.OW, kk = kh * kw, ckk = c * kk;
        if (pool) oh -= oh % 2; // floor pooling drops an odd last row
        bool two = ow > V;
        var mask0 = two ? Vector512<float>.AllBitsSet : MaskedStore.FirstLanes512<float>(ow);
        var mask1 = two ? MaskedStore.FirstLanes512<float>(ow - V) : Vector512<float>.Zero;
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float pw = ref MemoryMarshal.GetArrayDataReference(w);
        ref float py = ref MemoryMarshal.GetReference(y);
        for (int o0 = 0; o0 < oc; o0 += 4)
        {
            // filters o0..o0+3; a missing one (OC not a multiple of 4) repeats the last and is not stored
            int f1 = Math.Min(o0 + 1, oc - 1), f2 = Math.Min(o0 + 2, oc - 1), f3 = Math.Min(o0 + 3, oc - 1);
            Vector512<float> b0 = Vector512.Create(b is null ? 0f : b[o0]), b1 = Vector512.Create(b is null ? 0f : b[f1]);
            Vector512<float> b2 = Vector512.Create(b is null ? 0f : b[f2]), b3 = Vector512.Create(b is null ? 0f : b[f3]);
            for (int r = 0; r < oh; r += 2)
            {
                // rows r and r + 1 (an odd last row is computed twice and stored once)
                int r1 = Math.Min(r + 1, oh - 1);
                Vector512<float> a0 = b0, a1 = b1, a2 = b2, a3 = b3, d0 = b0, d1 = b1, d2 = b2, d3 = b3;   // row r
                Vector512<float> e0 = b0, e1 = b1, e2 = b2, e3 = b3, h0 = b0, h1 = b1, h2 = b2, h3 = b3;   // row r1
                for (int ci = 0; ci < c; ci++)
                    for (int i = 0; i < kh; i++)
                    {
                        nuint row = (nuint)(ci * plane + (r + i) * wp), row1 = (nuint)(ci * plane + (r1 + i) * wp);
                        int k = ci * kk + i * kw;
                        for (int j = 0; j < kw; j++, k++)
                        {
                            var w0 = Vector512.Create(Unsafe.Add(ref pw, o0 * ckk + k));
                            var w1 = Vector512.Create(Unsafe.Add(ref pw, f1 * ckk + k));
                            var w2 = Vector512.Create(Unsafe.Add(ref pw, f2 * ckk + k));
                            var w3 = Vector512.Create(Unsafe.Add(ref pw, f3 * ckk + k));
                            var x0 = Vector512.LoadUnsafe(ref px, row + (nuint)j);
                            var x1 = Vector512.LoadUnsafe(ref px, row1 + (nuint)j);
                            a0 = Vector512.FusedMultiplyAdd(x0, w0, a0);
                            a1 = Vector512.FusedMultiplyAdd(x0, w1, a1);
                            a2 = Vector512.FusedMultiplyAdd(x0, w2, a2);
                            a3 = Vector512.FusedMultiplyAdd(x0, w3, a3);
                            e0 = Vector512.FusedMultiplyAdd(x1, w0, e0);
                            e1 = Vector512.FusedMultiplyAdd(x1, w1, e1);
                            e2 = Vector512.FusedMultiplyAdd(x1, w2, e2);
                            e3 = Vector512.FusedMultiplyAdd(x1, w3, e3);
                            if (two)
                            {
                                x0 = Vector512.LoadUnsafe(ref px, row + (nuint)(j + V));
                                x1 = Vector512.LoadUnsafe(ref px, row1 + (nuint)(j + V));
                                d0 = Vector512.FusedMultiplyAdd(x0, w0, d0);
                                d1 = Vector512.FusedMultiplyAdd(x0, w1, d1);
                                d2 = Vector512.FusedMultiplyAdd(x0, w2, d2);
                                d3 = Vector512.FusedMultiplyAdd(x0, w3, d3);
                                h0 = Vector512.FusedMultiplyAdd(x1, w0, h0);
                                h1 = Vector512.FusedMultiplyAdd(x1, w1, h1);
                                h2 = Vector512.FusedMultiplyAdd(x1, w2, h2);
                                h3 = Vector512.FusedMultiplyAdd(x1, w3, h3);
                            }
                        }
                    }
                if (pool)
                {
                    // rows r and r + 1 pool together: vertical max, then the horizontal pairs
                    int pooledW = ow / 2, step = oh / 2 * pooledW, at = r / 2 * pooledW;
                    PoolStore(ref Unsafe.Add(ref py, o0 * step + at), a0, e0, d0, h0, two, pooledW, o0, scale, shift);
                    if (o0 + 1 < oc) PoolStore(ref Unsafe.Add(ref py, (o0 + 1) * step + at), a1, e1, d1, h1, two, pooledW, o0 + 1, scale, shift);
                    if (o0 + 2 < oc) PoolStore(ref Unsafe.Add(ref py, (o0 + 2) * step + at), a2, e2, d2, h2, two, pooledW, o0 + 2, scale, shift);
                    if (o0 + 3 < oc) PoolStore(ref Unsafe.Add(ref py, (o0 + 3) * step + at), a3, e3, d3, h3, two, pooledW, o0 + 3, scale, shift);
                    continue;
                }
                Store(ref py, o0, oc, oh, ow, r, a0, a1, a2, a3, mask0, relu, 0);
                if (two) Store(ref py, o0, oc, oh, ow, r, d0, d1, d2, d3, mask1, relu, V);
                if (r1 != r)
                {
                    Store(ref py, o0, oc, oh, ow, r1, e0, e1, e2, e3, mask0, relu, 0);
                    if (two) Store(ref py, o0, oc, oh, ow, r1, h0, h1, h2, h3, mask1, relu, V);
                }
            }
        }
    }

    // lanes in the order 0, 2, ..., 14, 1, 3, ..., 15: the even columns in the lower half, the odd ones in the upper
    // (constant indices written in the call, so that the JIT emits one permute; from a field it fell back to a
    // software shuffle and made lenet5's forward 1.5x slower)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> EvenOdd(Vector512<float> v) => Vector512.Shuffle(v, Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15));

    // one filter's rows r (top: columns 0-15, top1: 16-31) and r + 1 (bottom, bottom1) -> pooled row of pw values:
    // max over the 2x2 windows, clamped at 0 (max and ReLU commute), then * scale[o] + shift[o] when given
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PoolStore(ref float dst, Vector512<float> top, Vector512<float> bottom, Vector512<float> top1, Vector512<float> bottom1, bool two, int pw,
        int o, float[]? scale, float[]? shift)
    {
        var m = EvenOdd(Vector512.Max(top, bottom));
        var p0 = Vector256.Max(Vector256.Max(m.GetLower(), m.GetUpper()), Vector256<float>.Zero);
        if (!two)
        {
            if (scale is not null) p0 = p0 * Vector256.Create(scale[o]) + Vector256.Create(shift![o]);
            MaskedStore.Store(p0, ref dst, pw);
            return;
        }
        var m1 = EvenOdd(Vector512.Max(top1, bottom1));
        var p = Vector512.Create(p0, Vector256.Max(Vector256.Max(m1.GetLower(), m1.GetUpper()), Vector256<float>.Zero));
        if (scale is not null) p = p * Vector512.Create(scale[o]) + Vector512.Create(shift![o]);
        MaskedStore.Store512(p, ref dst, MaskedStore.FirstLanes512<float>(pw));
    }

    // the four filters' row r, columns [col, col + V) where mask is set, clamped at 0 when relu
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float py, int o0, int oc, int oh, int ow, int r, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        Vector512<float> mask, bool relu, int col)
    {
        if (relu)
        {
            a0 = Vector512.Max(a0, Vector512<float>.Zero);
            a1 = Vector512.Max(a1, Vector512<float>.Zero);
            a2 = Vector512.Max(a2, Vector512<float>.Zero);
            a3 = Vector512.Max(a3, Vector512<float>.Zero);
        }
        int at = (o0 * oh + r) * ow + col, step = oh * ow;
        MaskedStore.Store512(a0, ref Unsafe.Add(ref py, at), mask);
        if (o0 + 1 < oc) MaskedStore.Store512(a1, ref Unsafe.Add(ref py, at + step), mask);
        if (o0 + 2 < oc) MaskedStore.Store512(a2, ref Unsafe.Add(ref py, at + 2 * step), mask);
        if (o0 + 3 < oc) MaskedStore.Store512(a3, ref Unsafe.Add(ref py, at + 3 * step), mask);
    }
}
