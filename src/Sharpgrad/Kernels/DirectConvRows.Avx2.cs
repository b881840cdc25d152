using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

// AVX2's form: 16 registers cannot hold AVX-512's two rows of four filters, and 8-lane rows fit few widths (LeNet-5's
// 10-wide second layer would fill 10 of 16 lanes), so the output is computed on flat rows of the padded width: output
// (r, q) at r Wp + q, whose input (ci, r + kh, q + kw) sits at ci plane + r Wp + q + kh Wp + kw, so 8 consecutive flat
// outputs read 8 consecutive inputs for every tap. The Wp - OW columns past each row are computed and dropped.
internal static partial class DirectConvRows
{
    /// <summary>Whether AVX2 leaves these convolutions to im2col + GEMM: the benchmarks' switch, off otherwise.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (alternating windows in one process, least time of each, median
    // of the paired ratios in brackets): lenet5's Predict at batch 256 2.25x (2.37x), at batch 1 2.00x (1.99x)
    internal static bool Avx2Off;

    private const int V8 = 8;                 // floats a 256-bit register holds
    private const int Regs = 6;               // registers of flat outputs a tile holds for each of its two filters
    private const int TileFloats = Regs * V8;

    // AVX2 (Vector256): as Forward. Per image: the zero-padded copy (C, H + 2PH, Wp), every filter's flat output
    // (OH Wp, in tiles of 48) into a scratch plane, then its rows copied out (clamped when relu) or pooled
    private static void Forward256(float[] x, float[] w, float[]? b, float[] y, int n, int oc, Conv2dGeometry g, bool relu, bool pool,
        float[]? scale, float[]? shift)
    {
        int hp = g.H + 2 * g.PH, wp = g.W + 2 * g.PW, plane = hp * wp, flat = g.OH * wp;
        int tiles = (flat + TileFloats - 1) / TileFloats;
        // a filter's scratch: its tiles and the pooling's 8-float reads past the last row; the padded copy: the last
        // tile's reads past the last plane (fewer than TileFloats + KW floats)
        int span = tiles * TileFloats + V8, padSize = g.C * plane + TileFloats + g.KW;
        int xs = g.C * g.H * g.W, ys = pool ? oc * (g.OH / 2) * (g.OW / 2) : oc * g.L;
        Parallelism.ForBalancedMacs(n, (_, start, end) =>
        {
            float[] pad = ArrayPool<float>.Shared.Rent(padSize), scr = ArrayPool<float>.Shared.Rent(oc * span);
            try
            {
                // cleared once: the borders and the slack stay zero, the extra columns' sums stay finite
                pad.AsSpan(0, padSize).Clear();
                scr.AsSpan(0, oc * span).Clear();
                for (int i = start; i < end; i++)
                {
                    CopyPadded(x.AsSpan(i * xs, xs), g, pad, wp, plane);
                    Tiles256(pad, w, b, scr, oc, g, wp, plane, tiles, span);
                    var yi = y.AsSpan(i * ys, ys);
                    if (pool) PoolRows256(scr, yi, oc, g.OH, g.OW, wp, span, scale, shift);
                    else CopyRows256(scr, yi, oc, g.OH, g.OW, wp, span, relu);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(scr);
            }
        }, (long)n * oc * g.L * g.Ckk);
    }

    /// <summary>Whether AVX2 leaves these input gradients to GEMM + col2im: the benchmarks' switch, off otherwise.</summary>
    // measured as Avx2Off: lenet5's training step at batch 128 1.03x (1.04x); with the forward 1.25x (1.21x)
    internal static bool InputGradientOff;

    /// <summary>The largest OC KH KW (the flipped convolution's reduction) <see cref="InputGradient"/> takes.</summary>
    // measured on LeNet-5's 400 (16 filters, 5x5); larger reductions keep the GEMM, whose panels stay in cache where
    // the tiles would walk every channel's dy plane for each 48 outputs
    public const int MaxInputGradientReduction = 3 * MaxReduction;

    /// <summary>
    /// Whether <see cref="InputGradient"/> runs the input gradient of this convolution with <paramref name="outChannels"/>
    /// filters: AVX2, stride 1, one group, a kernel larger than 1x1 other than 3x3 (those have their own), padding less
    /// than the kernel (the flipped convolution's padding KH - 1 - PH is then not negative), OC KH KW at most
    /// <see cref="MaxInputGradientReduction"/>.
    /// </summary>
    public static bool AppliesInputGradient(in Conv2dGeometry g, int outChannels, int groups) =>
        Conv2dKernels.Path == Gemm.KernelPath.Vector256 && !Avx2Off && !InputGradientOff && groups == 1 && g.SH == 1 && g.SW == 1 && g.KH * g.KW > 1
        && !(g.KH == 3 && g.KW == 3) && g.PH < g.KH && g.PW < g.KW && g.OH >= 1 && g.OW >= 1
        && (long)outChannels * g.KH * g.KW <= MaxInputGradientReduction;

    // dy: (N,OC,OH,OW), w: (OC,C,KH,KW) -> dx: (N,C,H,W), overwritten: a stride-1 convolution's input gradient is the
    // convolution of dy, padded by KH - 1 - PH and KW - 1 - PW, with the weights flipped and transposed, (C,OC,KH,KW);
    // the flat rows (reduction OC KH KW, up to MaxInputGradientReduction: the image's dy planes are what the tiles read)
    public static void InputGradient(float[] dy, float[] w, float[] dx, int n, int oc, in Conv2dGeometry g)
    {
        if (!AppliesInputGradient(g, oc, 1)) throw new ArgumentException($"DirectConvRows.InputGradient: needs AVX2, stride 1, a kernel other than 1x1 and 3x3, padding less than the kernel and OC*KH*KW <= {MaxInputGradientReduction}, got {g} with {oc} filters.");
        int c = g.C, kh = g.KH, kw = g.KW, kk = kh * kw;
        float[] flipped = ArrayPool<float>.Shared.Rent(oc * c * kk);
        try
        {
            DirectConv3x3.FlipWeights(w, flipped, oc, c, kk);
            var gdx = new Conv2dGeometry(oc, g.OH, g.OW, kh, kw, 1, 1, kh - 1 - g.PH, kw - 1 - g.PW);
            Forward256(dy, flipped, null, dx, n, c, gdx, relu: false, pool: false, null, null);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(flipped);
        }
    }

    // pad: (C, H + 2PH, Wp) -> scr: (OC, span), filter o's flat output r Wp + q at o span + r Wp + q: two filters by
    // six registers of flat outputs a step (12 accumulators, 2 broadcasts and 6 loads for 12 multiply-adds, 15
    // registers). Each sum starts at the bias and adds the taps in (ci, kh, kw) order, as Image's
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tiles256(float[] pad, float[] w, float[]? b, float[] scr, int oc, in Conv2dGeometry g, int wp, int plane, int tiles, int span)
    {
        int c = g.C, kh = g.KH, kw = g.KW, ckk = c * kh * kw;
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float ps = ref MemoryMarshal.GetArrayDataReference(scr);
        for (int o0 = 0; o0 < oc; o0 += 2)
        {
            int o1 = Math.Min(o0 + 1, oc - 1); // an odd last filter runs as both of its pair
            var b0 = Vector256.Create(b is null ? 0f : b[o0]);
            var b1 = Vector256.Create(b is null ? 0f : b[o1]);
            ref float w0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w), o0 * ckk);
            ref float w1 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w), o1 * ckk);
            for (int t = 0; t < tiles; t++)
            {
                nuint p = (nuint)(t * TileFloats);
                Vector256<float> a0 = b0, a1 = b0, a2 = b0, a3 = b0, a4 = b0, a5 = b0;
                Vector256<float> d0 = b1, d1 = b1, d2 = b1, d3 = b1, d4 = b1, d5 = b1;
                nint k = 0;
                for (int ci = 0; ci < c; ci++)
                    for (int r = 0; r < kh; r++)
                    {
                        nuint at = p + (nuint)(ci * plane + r * wp);
                        for (int s = 0; s < kw; s++, k++, at++)
                        {
                            var u = Vector256.Create(Unsafe.Add(ref w0, k));
                            var v = Vector256.Create(Unsafe.Add(ref w1, k));
                            var x0 = Vector256.LoadUnsafe(ref px, at);
                            a0 = Vector256.FusedMultiplyAdd(x0, u, a0);
                            d0 = Vector256.FusedMultiplyAdd(x0, v, d0);
                            x0 = Vector256.LoadUnsafe(ref px, at + V8);
                            a1 = Vector256.FusedMultiplyAdd(x0, u, a1);
                            d1 = Vector256.FusedMultiplyAdd(x0, v, d1);
                            x0 = Vector256.LoadUnsafe(ref px, at + 2 * V8);
                            a2 = Vector256.FusedMultiplyAdd(x0, u, a2);
                            d2 = Vector256.FusedMultiplyAdd(x0, v, d2);
                            x0 = Vector256.LoadUnsafe(ref px, at + 3 * V8);
                            a3 = Vector256.FusedMultiplyAdd(x0, u, a3);
                            d3 = Vector256.FusedMultiplyAdd(x0, v, d3);
                            x0 = Vector256.LoadUnsafe(ref px, at + 4 * V8);
                            a4 = Vector256.FusedMultiplyAdd(x0, u, a4);
                            d4 = Vector256.FusedMultiplyAdd(x0, v, d4);
                            x0 = Vector256.LoadUnsafe(ref px, at + 5 * V8);
                            a5 = Vector256.FusedMultiplyAdd(x0, u, a5);
                            d5 = Vector256.FusedMultiplyAdd(x0, v, d5);
                        }
                    }
                nuint sa = (nuint)(o0 * span) + p, sd = (nuint)(o1 * span) + p;
                a0.StoreUnsafe(ref ps, sa);
                a1.StoreUnsafe(ref ps, sa + V8);
                a2.StoreUnsafe(ref ps, sa + 2 * V8);
                a3.StoreUnsafe(ref ps, sa + 3 * V8);
                a4.StoreUnsafe(ref ps, sa + 4 * V8);
                a5.StoreUnsafe(ref ps, sa + 5 * V8);
                d0.StoreUnsafe(ref ps, sd);
                d1.StoreUnsafe(ref ps, sd + V8);
                d2.StoreUnsafe(ref ps, sd + 2 * V8);
                d3.StoreUnsafe(ref ps, sd + 3 * V8);
                d4.StoreUnsafe(ref ps, sd + 4 * V8);
                d5.StoreUnsafe(ref ps, sd + 5 * V8);
            }
        }
    }

    // scr: (OC, span) flat rows of Wp -> y: (OC, OH, OW), the first OW of each row, clamped at 0 when relu
    private static void CopyRows256(float[] scr, Span<float> y, int oc, int oh, int ow, int wp, int span, bool relu)
    {
        ref float ps = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float py = ref MemoryMarshal.GetReference(y);
        for (int o = 0; o < oc; o++)
            for (int r = 0; r < oh; r++)
            {
                ref float src = ref Unsafe.Add(ref ps, o * span + r * wp);
                ref float dst = ref Unsafe.Add(ref py, (o * oh + r) * ow);
                int j = 0;
                for (; j <= ow - V8; j += V8)
                {
                    var v = Vector256.LoadUnsafe(ref src, (nuint)j);
                    if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
                    v.StoreUnsafe(ref dst, (nuint)j);
                }
                if (j < ow)
                {
                    var v = Vector256.LoadUnsafe(ref src, (nuint)j); // within the row's Wp or the span's slack
                    if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
                    MaskedStore.Store(v, ref Unsafe.Add(ref dst, j), ow - j);
                }
            }
    }

    // scr: (OC, span) flat rows of Wp -> y: (OC, OH/2, OW/2) = max over each 2x2 window, clamped at 0, then
    // * scale[o] + shift[o] when given: Image's pooled store, four windows a step (the same maxima in the same order)
    private static void PoolRows256(float[] scr, Span<float> y, int oc, int oh, int ow, int wp, int span, float[]? scale, float[]? shift)
    {
        int ph = oh / 2, pw = ow / 2;
        ref float ps = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float py = ref MemoryMarshal.GetReference(y);
        for (int o = 0; o < oc; o++)
        {
            Vector128<float> s = Vector128.Create(scale is null ? 1f : scale[o]), t = Vector128.Create(shift is null ? 0f : shift[o]);
            for (int r = 0; r < ph; r++)
            {
                ref float top = ref Unsafe.Add(ref ps, o * span + 2 * r * wp);
                ref float bottom = ref Unsafe.Add(ref top, wp);
                ref float dst = ref Unsafe.Add(ref py, (o * ph + r) * pw);
                for (int j = 0; j < pw; j += 4)
                {
                    // 8 columns (4 windows): reads past 2 pw stay within the next row or the span's slack
                    var m = EvenOdd256(Vector256.Max(Vector256.LoadUnsafe(ref top, (nuint)(2 * j)), Vector256.LoadUnsafe(ref bottom, (nuint)(2 * j))));
                    var p = Vector128.Max(Vector128.Max(m.GetLower(), m.GetUpper()), Vector128<float>.Zero);
                    if (scale is not null) p = p * s + t;
                    if (j + 4 <= pw) p.StoreUnsafe(ref dst, (nuint)j);
                    else MaskedStore.Store(p, ref Unsafe.Add(ref dst, j), pw - j);
                }
            }
        }
    }

    // lanes in the order 0, 2, 4, 6, 1, 3, 5, 7 (constant indices written in the call: one vpermps)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> EvenOdd256(Vector256<float> v) => Vector256.Shuffle(v, Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7));
}
