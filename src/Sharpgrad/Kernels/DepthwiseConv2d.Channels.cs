using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

internal static partial class DepthwiseConv2d
{
    /// <summary>Channels a register holds in <see cref="ForwardChannels"/>.</summary>
    private const int ChannelBlock = 16;

    /// <summary>
    /// Whether the float32 forward runs 16 channels at a time in a register (<see cref="ForwardChannels"/>; with AVX2 two
    /// registers of 8, one pass each) rather than plane by plane along the rows: 3x3, padding 1, stride 1 or 2, channels
    /// a multiple of 16, on AVX-512 or AVX2, where an
    /// output row fills less than a 512-bit register (mobilenet's 14- and 7-wide maps), or, on AVX2, less than two
    /// (its 28-wide first depthwise layer: 3.5 registers of 8 a row). Plane by plane, such a map's
    /// per-plane work (the padded copy, a masked store per row, the calls) cost more than its 9 multiply-adds a pixel.
    /// On the 2-core AVX-512 VM of issue #11, one thread, 11 images (a depth-first part of mobilenet): 64 channels 14
    /// -> 7 stride 2 85 -> 47 us, 128 channels 7 -> 7 115 -> 60 us, 32 channels 28 -> 14 stride 2 91 against 93 us;
    /// mobilenet's depth-first inference at batch 256 12.5-15.3 -> 9.3-10.0 ms (three alternating runs each).
    /// </summary>
    internal static bool UsesChannels(in Conv2dGeometry g) =>
        (Conv2dKernels.Path == Gemm.KernelPath.Vector512 || Conv2dKernels.Path == Gemm.KernelPath.Vector256 && !ChannelsAvx2Off)
        && g is { KH: 3, KW: 3, PH: 1, PW: 1 } && g.SH == g.SW && g.SH is 1 or 2 && g.C % ChannelBlock == 0
        && g.OW < (Conv2dKernels.Path == Gemm.KernelPath.Vector256 && !WideRowsAvx2Off ? 2 * Vector512<float>.Count : Vector512<float>.Count);

    /// <summary>Whether AVX2 keeps rows 16 to 31 wide on the plane path: the benchmarks' switch, off otherwise.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (alternating windows in one process, least time, median in
    // brackets): one thread, 16 channels at 28x28, 32 images 1.33x (1.26x); mobilenet's Predict at batch 256 1.00x
    // (1.05x), at batch 1 1.03x (1.04x)
    internal static bool WideRowsAvx2Off;

    /// <summary>
    /// Whether AVX2 keeps the plane-by-plane forward and backward on this thread: the tests' switch (the plane path is
    /// their oracle), off otherwise. Per thread, so that a test that sets it changes nothing for tests running beside
    /// it; the kernels read it on the calling thread.
    /// </summary>
    // measured on the 2-core AMD EPYC without AVX-512 (alternating windows in one process, the switch then a plain
    // static that the depth-first parts' worker threads saw too): mobilenet's Predict at batch 256 1.36x (median
    // 1.37x), at batch 1 1.28x (1.35x) with the channel blocks
    internal static bool ChannelsAvx2Off { get => t_channelsAvx2Off; set => t_channelsAvx2Off = value; }

    [ThreadStatic] private static bool t_channelsAvx2Off;

    // x: (N,C,H,W), w: (C,1,3,3), b: (C)? -> y: (N,C,OH,OW), padding 1, stride 1 or 2, C a multiple of 16. Per (image,
    // block of 16 channels): the 16 planes transposed to (H W, 16) and laid into a zero-bordered (H+2, W+2, 16) copy,
    // then each output pixel's 16 channels in one register: bias, then the nine taps by multiply-add in the order of
    // ForwardPlane3x3 (so the same bits), four pixels at a time; clamped at 0 when relu; transposed back to the planes.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardChannels(float[] x, float[] w, float[]? b, float[] y, int n, in Conv2dGeometry g, bool relu)
    {
        int c = g.C, h = g.H, wd = g.W, wp = wd + 2, s = g.SH, oh = g.OH, ow = g.OW, xs = h * wd, ys = oh * ow, blocks = c / ChannelBlock;
        int padSize = (h + 2) * wp * ChannelBlock;
        bool wide = Conv2dKernels.Path == Gemm.KernelPath.Vector512;
        float[] wt = ArrayPool<float>.Shared.Rent(c * 9);
        try
        {
            BlockWeights(w, c, wt);
            Parallelism.ForBalancedMacs(n * blocks, (_, start, end) =>
            {
                float[] pad = ArrayPool<float>.Shared.Rent(padSize), tr = ArrayPool<float>.Shared.Rent(xs * ChannelBlock), outp = ArrayPool<float>.Shared.Rent(ys * ChannelBlock);
                try
                {
                    pad.AsSpan(0, padSize).Clear(); // the border stays zero: only the interior is written below
                    for (int job = start; job < end; job++)
                    {
                        int cb = job % blocks, plane0 = job / blocks * c + cb * ChannelBlock; // (image, first channel) as a plane index
                        // (16, H W) -> (H W, 16), then each input row into the padded copy
                        ChannelConv3x3.Transpose(ref x[plane0 * xs], ChannelBlock, xs, xs, ref tr[0], ChannelBlock);
                        for (int r = 0; r < h; r++)
                            tr.AsSpan(r * wd * ChannelBlock, wd * ChannelBlock).CopyTo(pad.AsSpan(((r + 1) * wp + 1) * ChannelBlock));
                        if (wide)
                        {
                            var bias = b is null ? Vector512<float>.Zero : Vector512.LoadUnsafe(ref b[cb * ChannelBlock]);
                            Pixels<Lanes512<float>, Vector512<float>>(pad, wt, cb, 0, bias, outp, oh, ow, wp, s, relu);
                        }
                        else
                            for (int half = 0; half < ChannelBlock; half += 8)
                            {
                                // AVX2: the block's 16 channels as two registers of 8, one pass each
                                var bias = b is null ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref b[cb * ChannelBlock + half]);
                                Pixels<Lanes256<float>, Vector256<float>>(pad, wt, cb, half, bias, outp, oh, ow, wp, s, relu);
                            }
                        ChannelConv3x3.Transpose(ref outp[0], ys, ChannelBlock, ChannelBlock, ref y[plane0 * ys], ys);
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(pad);
                    ArrayPool<float>.Shared.Return(tr);
                    ArrayPool<float>.Shared.Return(outp);
                }
            }, (long)n * c * ys * 9);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(wt);
        }
    }

    // w: (C,1,3,3) -> wt: (C/16, 9, 16), tap k of channel block cb at (cb 9 + k) 16 (the forward's and the backward's layout)
    private static void BlockWeights(ReadOnlySpan<float> w, int c, Span<float> wt)
    {
        for (int ch = 0; ch < c; ch++)
            for (int k = 0; k < 9; k++) wt[(ch / ChannelBlock * 9 + k) * ChannelBlock + ch % ChannelBlock] = w[ch * 9 + k];
    }

    // pad: (H+2, Wp, 16) one block's padded channels, wt: (C/16, 9, 16) -> outp: (OH OW, 16), the channels
    // [half, half + TL.Count) of the block (the whole block on 512-bit registers; AVX2 runs halves 0 and 8)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pixels<TL, TV>(float[] pad, float[] wt, int cb, int half, TV bias, float[] outp, int oh, int ow, int wp, int s, bool relu)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        const int V = ChannelBlock;
        if (pad.Length < (((oh - 1) * s + 2) * wp + (ow - 1) * s + 3) * V || outp.Length < oh * ow * V || wt.Length < (cb + 1) * 9 * V)
            throw new ArgumentException("DepthwiseConv2d.Pixels: buffers smaller than the map.");
        ref float pw = ref wt[cb * 9 * V + half];
        var w0 = TL.Load(ref pw, 0 * V); var w1 = TL.Load(ref pw, 1 * V); var w2 = TL.Load(ref pw, 2 * V);
        var w3 = TL.Load(ref pw, 3 * V); var w4 = TL.Load(ref pw, 4 * V); var w5 = TL.Load(ref pw, 5 * V);
        var w6 = TL.Load(ref pw, 6 * V); var w7 = TL.Load(ref pw, 7 * V); var w8 = TL.Load(ref pw, 8 * V);
        ref float px = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(pad), half);
        ref float po = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(outp), half);
        nuint row = (nuint)(wp * V), step = (nuint)(s * V);
        var zero = TL.Zero;
        for (int p = 0; p < oh; p++)
        {
            // tap (kh, kw) of output (p, q) at padded pixel (p s + kh, q s + kw)
            ref float r0 = ref Unsafe.Add(ref px, p * s * wp * V);
            ref float o = ref Unsafe.Add(ref po, p * ow * V);
            int q = 0;
            for (; q + 4 <= ow; q += 4)
            {
                nuint a = (nuint)q * step, bq = a + step, cq = bq + step, d = cq + step;
                var ya = TL.MultiplyAdd(w0, TL.Load(ref r0, a), bias);
                var yb = TL.MultiplyAdd(w0, TL.Load(ref r0, bq), bias);
                var yc = TL.MultiplyAdd(w0, TL.Load(ref r0, cq), bias);
                var yd = TL.MultiplyAdd(w0, TL.Load(ref r0, d), bias);
                ya = TL.MultiplyAdd(w1, TL.Load(ref r0, a + V), ya);
                yb = TL.MultiplyAdd(w1, TL.Load(ref r0, bq + V), yb);
                yc = TL.MultiplyAdd(w1, TL.Load(ref r0, cq + V), yc);
                yd = TL.MultiplyAdd(w1, TL.Load(ref r0, d + V), yd);
                ya = TL.MultiplyAdd(w2, TL.Load(ref r0, a + 2 * V), ya);
                yb = TL.MultiplyAdd(w2, TL.Load(ref r0, bq + 2 * V), yb);
                yc = TL.MultiplyAdd(w2, TL.Load(ref r0, cq + 2 * V), yc);
                yd = TL.MultiplyAdd(w2, TL.Load(ref r0, d + 2 * V), yd);
                ya = TL.MultiplyAdd(w3, TL.Load(ref r0, row + a), ya);
                yb = TL.MultiplyAdd(w3, TL.Load(ref r0, row + bq), yb);
                yc = TL.MultiplyAdd(w3, TL.Load(ref r0, row + cq), yc);
                yd = TL.MultiplyAdd(w3, TL.Load(ref r0, row + d), yd);
                ya = TL.MultiplyAdd(w4, TL.Load(ref r0, row + a + V), ya);
                yb = TL.MultiplyAdd(w4, TL.Load(ref r0, row + bq + V), yb);
                yc = TL.MultiplyAdd(w4, TL.Load(ref r0, row + cq + V), yc);
                yd = TL.MultiplyAdd(w4, TL.Load(ref r0, row + d + V), yd);
                ya = TL.MultiplyAdd(w5, TL.Load(ref r0, row + a + 2 * V), ya);
                yb = TL.MultiplyAdd(w5, TL.Load(ref r0, row + bq + 2 * V), yb);
                yc = TL.MultiplyAdd(w5, TL.Load(ref r0, row + cq + 2 * V), yc);
                yd = TL.MultiplyAdd(w5, TL.Load(ref r0, row + d + 2 * V), yd);
                ya = TL.MultiplyAdd(w6, TL.Load(ref r0, 2 * row + a), ya);
                yb = TL.MultiplyAdd(w6, TL.Load(ref r0, 2 * row + bq), yb);
                yc = TL.MultiplyAdd(w6, TL.Load(ref r0, 2 * row + cq), yc);
                yd = TL.MultiplyAdd(w6, TL.Load(ref r0, 2 * row + d), yd);
                ya = TL.MultiplyAdd(w7, TL.Load(ref r0, 2 * row + a + V), ya);
                yb = TL.MultiplyAdd(w7, TL.Load(ref r0, 2 * row + bq + V), yb);
                yc = TL.MultiplyAdd(w7, TL.Load(ref r0, 2 * row + cq + V), yc);
                yd = TL.MultiplyAdd(w7, TL.Load(ref r0, 2 * row + d + V), yd);
                ya = TL.MultiplyAdd(w8, TL.Load(ref r0, 2 * row + a + 2 * V), ya);
                yb = TL.MultiplyAdd(w8, TL.Load(ref r0, 2 * row + bq + 2 * V), yb);
                yc = TL.MultiplyAdd(w8, TL.Load(ref r0, 2 * row + cq + 2 * V), yc);
                yd = TL.MultiplyAdd(w8, TL.Load(ref r0, 2 * row + d + 2 * V), yd);
                if (relu)
                {
                    ya = TL.Max(ya, zero); yb = TL.Max(yb, zero); yc = TL.Max(yc, zero); yd = TL.Max(yd, zero);
                }
                TL.Store(ya, ref o, (nuint)(q * V)); TL.Store(yb, ref o, (nuint)((q + 1) * V));
                TL.Store(yc, ref o, (nuint)((q + 2) * V)); TL.Store(yd, ref o, (nuint)((q + 3) * V));
            }
            for (; q < ow; q++)
            {
                nuint a = (nuint)q * step;
                var ya = TL.MultiplyAdd(w0, TL.Load(ref r0, a), bias);
                ya = TL.MultiplyAdd(w1, TL.Load(ref r0, a + V), ya);
                ya = TL.MultiplyAdd(w2, TL.Load(ref r0, a + 2 * V), ya);
                ya = TL.MultiplyAdd(w3, TL.Load(ref r0, row + a), ya);
                ya = TL.MultiplyAdd(w4, TL.Load(ref r0, row + a + V), ya);
                ya = TL.MultiplyAdd(w5, TL.Load(ref r0, row + a + 2 * V), ya);
                ya = TL.MultiplyAdd(w6, TL.Load(ref r0, 2 * row + a), ya);
                ya = TL.MultiplyAdd(w7, TL.Load(ref r0, 2 * row + a + V), ya);
                ya = TL.MultiplyAdd(w8, TL.Load(ref r0, 2 * row + a + 2 * V), ya);
                if (relu) ya = TL.Max(ya, zero);
                TL.Store(ya, ref o, (nuint)(q * V));
            }
        }
    }
}
