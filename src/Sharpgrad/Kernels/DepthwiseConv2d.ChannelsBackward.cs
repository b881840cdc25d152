using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

internal static partial class DepthwiseConv2d
{
    /// <summary>
    /// Whether the float32 backward runs 16 channels at a time in a register (<see cref="BackwardChannels"/>) rather
    /// than plane by plane: 3x3, padding 1, stride 1 or 2, channels a multiple of 16, AVX-512 (or AVX2: two passes of 8
    /// channels a block, the same sums), input planes of at most 1,024 pixels (a block's padded input, output gradient and
    /// input gradient stay in the core's caches).
    /// </summary>
    // AVX2, on the 2-core AMD EPYC without AVX-512: mobilenet's training step at batch 128 1.37x (median 1.38x,
    // alternating windows in one process; the forward's channel blocks included)
    // measured on the 2-core AVX-512 VM of issue #11, mobilenet's training step at batch 128 (its four depthwise layers'
    // backward under the bench's --profile, against the plane kernels): 16 channels 28x28 2.5 -> 2.3 ms, 32 at 28 -> 14
    // 4.7 -> 3.2 ms, 64 at 14 -> 7 4.4 -> 1.7 ms, 128 at 7x7 6.5 -> 1.2 ms; the step 1.11x (alternating windows in one
    // process; median 1.19x)
    internal static bool UsesChannelsBackward(in Conv2dGeometry g) =>
        (Conv2dKernels.Path == Gemm.KernelPath.Vector512 || Conv2dKernels.Path == Gemm.KernelPath.Vector256 && !ChannelsAvx2Off) && g is { KH: 3, KW: 3, PH: 1, PW: 1 } && g.SH == g.SW && g.SH is 1 or 2
        && g.C % ChannelBlock == 0 && g.H * g.W <= 1024;

    // dy: (N,C,OH,OW), x: (N,C,H,W), w: (C,1,3,3) -> dx: (N,C,H,W)?, dw: (C,1,3,3)?, db: (C)?, padding 1, stride 1 or 2,
    // C a multiple of 16. Per block of 16 channels and run of 16 images (split across threads), image by image: the block's
    // output gradient transposed to (OH OW, 16); db sums it; dw: the block's input laid into a zero-bordered
    // (H+2, W+2, 16) copy, then per output pixel nine multiply-adds into nine accumulators (tap k of channel ch sums
    // dy[p] x[p s + k] over a run's images in order, then the runs in order); dx: per tap, every output pixel's
    // dy[p] w[k] added into a zero-bordered (H+2, W+2, 16) buffer at p s + k (within a tap no two pixels meet), whose
    // interior is transposed back to the planes. Results do not depend on the thread count.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardChannels(float[] dy, float[] x, float[] w, float[]? dx, float[]? dw, float[]? db, int n, in Conv2dGeometry g)
    {
        if (!UsesChannelsBackward(g)) throw new ArgumentException($"DepthwiseConv2d.BackwardChannels: needs AVX2 or AVX-512, a 3x3 padding-1 kernel at stride 1 or 2, channels a multiple of {ChannelBlock} and at most 1024 pixels a plane, got {g.C} channels, {g.H}x{g.W}, stride {g.SH}.");
        const int V = ChannelBlock;
        int c = g.C, h = g.H, wd = g.W, wp = wd + 2, s = g.SH, oh = g.OH, ow = g.OW, xs = h * wd, ys = oh * ow, blocks = c / V;
        int padSize = (h + 2) * wp * V;
        bool wide = Conv2dKernels.Path == Gemm.KernelPath.Vector512;
        if (dy.Length < (long)n * c * ys || x.Length < (long)n * c * xs || w.Length < c * 9 || (dx is not null && dx.Length < (long)n * c * xs)
            || (dw is not null && dw.Length < c * 9) || (db is not null && db.Length < c))
            throw new ArgumentException($"DepthwiseConv2d.BackwardChannels: arrays shorter than the shapes ({n} images, {c} channels, {h}x{wd} -> {oh}x{ow}).");
        // jobs: (block, run of ImagesPerJob images), each summing its own dw and db; the runs are then added in order,
        // so the result does not depend on how many threads took the jobs
        int runs = (n + ImagesPerJob - 1) / ImagesPerJob, jobs = blocks * runs;
        float[] partial = ArrayPool<float>.Shared.Rent(jobs * 10 * V), wt = ArrayPool<float>.Shared.Rent(c * 9);
        try
        {
            BlockWeights(w, c, wt);
            Parallelism.ForBalancedMacs(jobs, (_, start, end) =>
            {
                float[] xpad = ArrayPool<float>.Shared.Rent(padSize), dxpad = ArrayPool<float>.Shared.Rent(padSize);
                float[] dyb = ArrayPool<float>.Shared.Rent(ys * V), tr = ArrayPool<float>.Shared.Rent(xs * V);
                try
                {
                    xpad.AsSpan(0, padSize).Clear(); // the border stays zero: only the interior is written
                    for (int job = start; job < end; job++)
                    {
                        int cb = job / runs, i0 = job % runs * ImagesPerJob, i1 = Math.Min(n, i0 + ImagesPerJob);
                        var sums = partial.AsSpan(job * 10 * V, 10 * V);
                        sums.Clear();
                        for (int i = i0; i < i1; i++)
                        {
                            int plane0 = i * c + cb * V;
                            ChannelConv3x3.Transpose(ref dy[(long)plane0 * ys], V, ys, ys, ref dyb[0], V);
                            if (db is not null)
                            {
                                if (wide) SumPixels<Lanes512<float>, Vector512<float>>(dyb, ys, sums, 0);
                                else for (int half = 0; half < V; half += 8) SumPixels<Lanes256<float>, Vector256<float>>(dyb, ys, sums, half);
                            }
                            if (dw is not null)
                            {
                                ChannelConv3x3.Transpose(ref x[(long)plane0 * xs], V, xs, xs, ref tr[0], V);
                                for (int r = 0; r < h; r++)
                                    tr.AsSpan(r * wd * V, wd * V).CopyTo(xpad.AsSpan(((r + 1) * wp + 1) * V));
                                if (wide) WeightGradientPixels<Lanes512<float>, Vector512<float>>(xpad, dyb, sums, oh, ow, wp, s, 0);
                                else for (int half = 0; half < V; half += 8) WeightGradientPixels<Lanes256<float>, Vector256<float>>(xpad, dyb, sums, oh, ow, wp, s, half);
                            }
                            if (dx is not null)
                            {
                                dxpad.AsSpan(0, padSize).Clear();
                                if (wide) InputGradientPixels<Lanes512<float>, Vector512<float>>(dyb, wt, cb, dxpad, oh, ow, wp, s, 0);
                                else for (int half = 0; half < V; half += 8) InputGradientPixels<Lanes256<float>, Vector256<float>>(dyb, wt, cb, dxpad, oh, ow, wp, s, half);
                                for (int r = 0; r < h; r++)
                                    dxpad.AsSpan(((r + 1) * wp + 1) * V, wd * V).CopyTo(tr.AsSpan(r * wd * V));
                                ChannelConv3x3.Transpose(ref tr[0], xs, V, V, ref dx[(long)plane0 * xs], xs);
                            }
                        }
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(xpad);
                    ArrayPool<float>.Shared.Return(dxpad);
                    ArrayPool<float>.Shared.Return(dyb);
                    ArrayPool<float>.Shared.Return(tr);
                }
            }, (long)n * c * ys * 9 * 2);
            Span<float> wsum = stackalloc float[9];
            for (int cb = 0; cb < blocks; cb++)
                for (int ch = 0; ch < V; ch++)
                {
                    float bsum = 0;
                    wsum.Clear();
                    for (int run = 0; run < runs; run++)
                    {
                        int at = (cb * runs + run) * 10 * V;
                        bsum += partial[at + ch];
                        for (int k = 0; k < 9; k++) wsum[k] += partial[at + (1 + k) * V + ch];
                    }
                    if (dw is not null)
                        for (int k = 0; k < 9; k++) dw[(cb * V + ch) * 9 + k] = wsum[k];
                    if (db is not null) db[cb * V + ch] = bsum;
                }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(partial);
            ArrayPool<float>.Shared.Return(wt);
        }
    }

    /// <summary>Images a job of <see cref="BackwardChannels"/> takes (a block of 16 channels alone would leave one thread idle on 16 or 32 channels).</summary>
    private const int ImagesPerJob = 16;

    // The three below run on the channels [half, half + TL.Count) of a block (the whole block on 512-bit registers;
    // AVX2 runs halves 0 and 8: the same sums in the same order).
    // dyb: (P, 16) -> sums[0..16) += the sum over the P pixels, in order
    private static void SumPixels<TL, TV>(float[] dyb, int pixels, Span<float> sums, int half)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        const int V = ChannelBlock;
        if (dyb.Length < pixels * V || sums.Length < V) throw new ArgumentException("DepthwiseConv2d.SumPixels: buffers smaller than the block.");
        ref float pd = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(dyb), half);
        ref float ps = ref Unsafe.Add(ref MemoryMarshal.GetReference(sums), half);
        var acc = TL.Load(ref ps, 0);
        for (int p = 0; p < pixels; p++) acc = TL.Add(acc, TL.Load(ref pd, (nuint)(p * V)));
        TL.Store(acc, ref ps, 0);
    }

    // xpad: (H+2, Wp, 16), dyb: (OH OW, 16) -> sums[(1 + k) 16 ..] += sum over output pixels p of dy[p] x[p s + tap k]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradientPixels<TL, TV>(float[] xpad, float[] dyb, Span<float> sums, int oh, int ow, int wp, int s, int half)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        const int V = ChannelBlock;
        if (xpad.Length < (((oh - 1) * s + 2) * wp + (ow - 1) * s + 3) * V || dyb.Length < oh * ow * V || sums.Length < 10 * V)
            throw new ArgumentException("DepthwiseConv2d.WeightGradientPixels: buffers smaller than the map.");
        ref float px = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(xpad), half);
        ref float pd = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(dyb), half);
        ref float ps = ref Unsafe.Add(ref MemoryMarshal.GetReference(sums), half);
        var a0 = TL.Load(ref ps, 1 * V); var a1 = TL.Load(ref ps, 2 * V); var a2 = TL.Load(ref ps, 3 * V);
        var a3 = TL.Load(ref ps, 4 * V); var a4 = TL.Load(ref ps, 5 * V); var a5 = TL.Load(ref ps, 6 * V);
        var a6 = TL.Load(ref ps, 7 * V); var a7 = TL.Load(ref ps, 8 * V); var a8 = TL.Load(ref ps, 9 * V);
        nuint row = (nuint)(wp * V);
        for (int r = 0; r < oh; r++)
        {
            ref float r0 = ref Unsafe.Add(ref px, r * s * wp * V);
            for (int q = 0; q < ow; q++)
            {
                var d = TL.Load(ref pd, (nuint)((r * ow + q) * V));
                nuint a = (nuint)(q * s * V);
                a0 = TL.MultiplyAdd(d, TL.Load(ref r0, a), a0);
                a1 = TL.MultiplyAdd(d, TL.Load(ref r0, a + V), a1);
                a2 = TL.MultiplyAdd(d, TL.Load(ref r0, a + 2 * V), a2);
                a3 = TL.MultiplyAdd(d, TL.Load(ref r0, row + a), a3);
                a4 = TL.MultiplyAdd(d, TL.Load(ref r0, row + a + V), a4);
                a5 = TL.MultiplyAdd(d, TL.Load(ref r0, row + a + 2 * V), a5);
                a6 = TL.MultiplyAdd(d, TL.Load(ref r0, 2 * row + a), a6);
                a7 = TL.MultiplyAdd(d, TL.Load(ref r0, 2 * row + a + V), a7);
                a8 = TL.MultiplyAdd(d, TL.Load(ref r0, 2 * row + a + 2 * V), a8);
            }
        }
        TL.Store(a0, ref ps, 1 * V); TL.Store(a1, ref ps, 2 * V); TL.Store(a2, ref ps, 3 * V);
        TL.Store(a3, ref ps, 4 * V); TL.Store(a4, ref ps, 5 * V); TL.Store(a5, ref ps, 6 * V);
        TL.Store(a6, ref ps, 7 * V); TL.Store(a7, ref ps, 8 * V); TL.Store(a8, ref ps, 9 * V);
    }

    // dyb: (OH OW, 16), wt: (C/16, 9, 16), block cb's taps -> dxpad: (H+2, Wp, 16) += dy[p] w[k] at p s + tap k, tap
    // by tap (the pixels of one tap land on distinct positions)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientPixels<TL, TV>(float[] dyb, float[] wt, int cb, float[] dxpad, int oh, int ow, int wp, int s, int half)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        const int V = ChannelBlock;
        if (dxpad.Length < (((oh - 1) * s + 2) * wp + (ow - 1) * s + 3) * V || dyb.Length < oh * ow * V || wt.Length < (cb + 1) * 9 * V)
            throw new ArgumentException("DepthwiseConv2d.InputGradientPixels: buffers smaller than the map.");
        ref float pd = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(dyb), half);
        ref float px = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(dxpad), half);
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++)
            {
                var wk = TL.Load(ref wt[0], (nuint)(((cb * 9) + kh * 3 + kw) * V + half));
                for (int r = 0; r < oh; r++)
                {
                    ref float dst = ref Unsafe.Add(ref px, ((r * s + kh) * wp + kw) * V);
                    ref float src = ref Unsafe.Add(ref pd, r * ow * V);
                    for (int q = 0; q < ow; q++)
                    {
                        nuint at = (nuint)(q * s * V);
                        TL.Store(TL.MultiplyAdd(TL.Load(ref src, (nuint)(q * V)), wk, TL.Load(ref dst, at)), ref dst, at);
                    }
                }
            }
    }
}
