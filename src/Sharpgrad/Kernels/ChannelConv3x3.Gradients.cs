using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpgrad.Kernels;

// ChannelConv3x3's gradients: the weight gradient (the forward tiles turned around) and the stride-2 input gradient
// (the forward tiles per parity class of input pixels); the forward, the layouts and the transpose are in
// ChannelConv3x3.cs.
internal static partial class ChannelConv3x3
{
    // x: (N,C,H,W), dy: (N,OC,OH,OW) -> dw: (OC,C,3,3) = the sum over images and output pixels p of dy[o, p] times the
    // padded input at p's tap (c, kh, kw); images split into fixed chunks whose partial sums are added in chunk order
    // (deterministic per thread count). The same tiles as Forward with the roles turned: one pixel's dy for 2V output
    // channels (a row of the transposed dy) times its 9 taps' inputs, broadcast, into 18 accumulators.
    public static void WeightGradient(float[] x, float[] dy, float[] dw, int n, int c, int h, int w, int oc, int stride = 1)
    {
        if (!AppliesWeightGradient(new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1), oc))
            throw new ArgumentException($"ChannelConv3x3.WeightGradient: needs stride 1 or 2 and output channels a multiple of {Lanes}, got stride {stride} and {oc}.");
        switch (Conv2dKernels.Path)
        {
            case Gemm.KernelPath.Vector512: WeightGradient<Lanes512<float>, Vector512<float>>(x, dy, dw, n, c, h, w, oc, stride); break;
            case Gemm.KernelPath.Vector256: WeightGradient<Lanes256<float>, Vector256<float>>(x, dy, dw, n, c, h, w, oc, stride); break;
            default: WeightGradient<Lanes1<float>, float>(x, dy, dw, n, c, h, w, oc, stride); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradient<TL, TV>(float[] x, float[] dy, float[] dw, int n, int c, int h, int w, int oc, int stride)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        // plain padding: (C, H+2, W+2) covers every tap of every output pixel
        var full = Layout.Of(h, w, stride);
        var lay = full with { Wp = w + 2, Plane = (h + 2) * (w + 2) };
        int l = lay.OH * lay.OW, xs = c * h * w, ys = oc * l, chunks = Parallelism.Chunks(n), size = oc * c * 9;
        // per-chunk sums in the transposed layout (C,3,3,OC), added in chunk order: one pooled block of chunks x size
        float[] partial = ArrayPool<float>.Shared.Rent(chunks * size);
        Parallelism.For(n, chunks, (chunk, start, end) =>
        {
            float[] pad = ArrayPool<float>.Shared.Rent(c * lay.Plane + Slack), dyt = ArrayPool<float>.Shared.Rent(l * oc);
            try
            {
                partial.AsSpan(chunk * size, size).Clear();
                for (int i = start; i < end; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, lay, pad, clear: i == start);
                    // dy (OC, L) -> dyt (L, OC)
                    Transpose(ref dy[i * ys], oc, l, l, ref MemoryMarshal.GetArrayDataReference(dyt), oc);
                    if (stride == 1) ImageWeightGradient<TL, TV, Stride1>(pad, dyt, partial, chunk * size, c, oc, lay);
                    else ImageWeightGradient<TL, TV, Stride2>(pad, dyt, partial, chunk * size, c, oc, lay);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(dyt);
            }
        });
        var sum = partial.AsSpan(0, size);
        for (int k = 1; k < chunks; k++) System.Numerics.Tensors.TensorPrimitives.Add(sum, partial.AsSpan(k * size, size), sum);
        // (C,3,3,OC) -> (OC,C,3,3)
        int kk = c * 9;
        for (int o = 0; o < oc; o++)
            for (int k = 0; k < kk; k++) dw[o * kk + k] = partial[k * oc + o];
        ArrayPool<float>.Shared.Return(partial);
    }

    // pad: (C,H+2,Wp), dyt: (OH OW, OC) -> partial[offset..]: (C,3,3,OC) += the image's weight gradient. Per block of 2V
    // output channels and input channel: 18 accumulators (9 taps x 2 registers) over all the image's pixels, each
    // pixel two dy loads and 9 broadcasts for 18 multiply-adds.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImageWeightGradient<TL, TV, TS>(float[] pad, float[] dyt, float[] partial, int offset, int c, int oc, in Layout lay)
        where TL : struct, ILanes<TV, float> where TV : struct where TS : struct, IStride
    {
        int oh = lay.OH, ow = lay.OW, wp = lay.Wp, plane = lay.Plane, block = 2 * TL.Count;
        nuint v = (nuint)TL.Count;
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float pd = ref MemoryMarshal.GetArrayDataReference(dyt);
        ref float pa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(partial), offset);
        if (TL.Count == 8)
        {
            // AVX2's 16 registers hold the one-register loop (9 accumulators, a dy register, a broadcast), not the
            // two-register one (21): every register of output channels runs it (the same sums in the same order)
            for (int o1 = 0; o1 < oc; o1 += TL.Count) ImageWeightGradient1<TL, TV, TS>(pad, dyt, partial, offset, c, oc, lay, o1);
            return;
        }
        int pairs = oc / block * block;
        // a last single register of output channels (16, 48, ... filters): 9 accumulators, one dy load and 9 broadcasts
        // per pixel
        if (pairs < oc) ImageWeightGradient1<TL, TV, TS>(pad, dyt, partial, offset, c, oc, lay, pairs);
        for (int o0 = 0; o0 < pairs; o0 += block)
            for (int ci = 0; ci < c; ci++)
            {
                TV a00 = TL.Zero, a01 = TL.Zero, a10 = TL.Zero, a11 = TL.Zero, a20 = TL.Zero, a21 = TL.Zero, a30 = TL.Zero, a31 = TL.Zero, a40 = TL.Zero, a41 = TL.Zero, a50 = TL.Zero, a51 = TL.Zero, a60 = TL.Zero, a61 = TL.Zero, a70 = TL.Zero, a71 = TL.Zero, a80 = TL.Zero, a81 = TL.Zero;
                TV x, d0, d1;
                for (int r = 0; r < oh; r++)
                {
                    ref float x0 = ref Unsafe.Add(ref px, ci * plane + r * TS.S * wp);
                    ref float x1 = ref Unsafe.Add(ref x0, wp);
                    ref float x2 = ref Unsafe.Add(ref x0, 2 * wp);
                    ref float d = ref Unsafe.Add(ref pd, r * ow * oc + o0);
                    nuint at = 0, dat = 0;
                    for (int q = 0; q < ow; q++, at += (nuint)TS.S, dat += (nuint)oc)
                    {
                        d0 = TL.Load(ref d, dat); d1 = TL.Load(ref d, dat + v);
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 0)); a00 = TL.MultiplyAdd(x, d0, a00); a01 = TL.MultiplyAdd(x, d1, a01);
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 1)); a10 = TL.MultiplyAdd(x, d0, a10); a11 = TL.MultiplyAdd(x, d1, a11);
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 2)); a20 = TL.MultiplyAdd(x, d0, a20); a21 = TL.MultiplyAdd(x, d1, a21);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 0)); a30 = TL.MultiplyAdd(x, d0, a30); a31 = TL.MultiplyAdd(x, d1, a31);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 1)); a40 = TL.MultiplyAdd(x, d0, a40); a41 = TL.MultiplyAdd(x, d1, a41);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 2)); a50 = TL.MultiplyAdd(x, d0, a50); a51 = TL.MultiplyAdd(x, d1, a51);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 0)); a60 = TL.MultiplyAdd(x, d0, a60); a61 = TL.MultiplyAdd(x, d1, a61);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 1)); a70 = TL.MultiplyAdd(x, d0, a70); a71 = TL.MultiplyAdd(x, d1, a71);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 2)); a80 = TL.MultiplyAdd(x, d0, a80); a81 = TL.MultiplyAdd(x, d1, a81);
                    }
                }
                ref float s0 = ref Unsafe.Add(ref pa, (ci * 9 + 0) * oc + o0); TL.Store(TL.Add(TL.Load(ref s0, 0), a00), ref s0, 0); TL.Store(TL.Add(TL.Load(ref s0, v), a01), ref s0, v);
                ref float s1 = ref Unsafe.Add(ref pa, (ci * 9 + 1) * oc + o0); TL.Store(TL.Add(TL.Load(ref s1, 0), a10), ref s1, 0); TL.Store(TL.Add(TL.Load(ref s1, v), a11), ref s1, v);
                ref float s2 = ref Unsafe.Add(ref pa, (ci * 9 + 2) * oc + o0); TL.Store(TL.Add(TL.Load(ref s2, 0), a20), ref s2, 0); TL.Store(TL.Add(TL.Load(ref s2, v), a21), ref s2, v);
                ref float s3 = ref Unsafe.Add(ref pa, (ci * 9 + 3) * oc + o0); TL.Store(TL.Add(TL.Load(ref s3, 0), a30), ref s3, 0); TL.Store(TL.Add(TL.Load(ref s3, v), a31), ref s3, v);
                ref float s4 = ref Unsafe.Add(ref pa, (ci * 9 + 4) * oc + o0); TL.Store(TL.Add(TL.Load(ref s4, 0), a40), ref s4, 0); TL.Store(TL.Add(TL.Load(ref s4, v), a41), ref s4, v);
                ref float s5 = ref Unsafe.Add(ref pa, (ci * 9 + 5) * oc + o0); TL.Store(TL.Add(TL.Load(ref s5, 0), a50), ref s5, 0); TL.Store(TL.Add(TL.Load(ref s5, v), a51), ref s5, v);
                ref float s6 = ref Unsafe.Add(ref pa, (ci * 9 + 6) * oc + o0); TL.Store(TL.Add(TL.Load(ref s6, 0), a60), ref s6, 0); TL.Store(TL.Add(TL.Load(ref s6, v), a61), ref s6, v);
                ref float s7 = ref Unsafe.Add(ref pa, (ci * 9 + 7) * oc + o0); TL.Store(TL.Add(TL.Load(ref s7, 0), a70), ref s7, 0); TL.Store(TL.Add(TL.Load(ref s7, v), a71), ref s7, v);
                ref float s8 = ref Unsafe.Add(ref pa, (ci * 9 + 8) * oc + o0); TL.Store(TL.Add(TL.Load(ref s8, 0), a80), ref s8, 0); TL.Store(TL.Add(TL.Load(ref s8, v), a81), ref s8, v);
            }
    }

    /// <summary>Whether AVX2's one-register weight gradient takes one pixel a step at stride 1 instead of four: the benchmarks' switch, off otherwise.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (training step at batch 128, alternating windows in one
    // process): resnet8 1.08x (median 1.07x), the exam CNN 1.01x (1.03x); AVX-512 keeps one pixel a step, where two
    // pixels a step measured 1.00x at the model level (the previous session)
    internal static bool WeightGradientQuadOff;

    // as ImageWeightGradient for the one register of output channels [o0, o0 + V)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImageWeightGradient1<TL, TV, TS>(float[] pad, float[] dyt, float[] partial, int offset, int c, int oc, in Layout lay, int o0)
        where TL : struct, ILanes<TV, float> where TV : struct where TS : struct, IStride
    {
        int oh = lay.OH, ow = lay.OW, wp = lay.Wp, plane = lay.Plane;
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float pd = ref MemoryMarshal.GetArrayDataReference(dyt);
        ref float pa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(partial), offset);
        bool quad = !WeightGradientQuadOff;
        for (int ci = 0; ci < c; ci++)
        {
            TV a0 = TL.Zero, a1 = TL.Zero, a2 = TL.Zero, a3 = TL.Zero, a4 = TL.Zero, a5 = TL.Zero, a6 = TL.Zero, a7 = TL.Zero, a8 = TL.Zero, d0;
            for (int r = 0; r < oh; r++)
            {
                ref float x0 = ref Unsafe.Add(ref px, ci * plane + r * TS.S * wp);
                ref float x1 = ref Unsafe.Add(ref x0, wp);
                ref float x2 = ref Unsafe.Add(ref x0, 2 * wp);
                ref float d = ref Unsafe.Add(ref pd, r * ow * oc + o0);
                nuint at = 0, dat = 0;
                int q = 0;
                if (TS.S == 1 && TL.Count == 8 && quad)
                {
                    // four pixels a step: each input value broadcast once for the taps of the pixels it meets (18
                    // broadcasts and 4 dy loads for 36 multiply-adds); each tap's sum still runs pixel by pixel
                    for (; q + 4 <= ow; q += 4, at += 4, dat += 4 * (nuint)oc)
                    {
                        TV e0 = TL.Load(ref d, dat), e1 = TL.Load(ref d, dat + (nuint)oc), e2 = TL.Load(ref d, dat + 2 * (nuint)oc), e3 = TL.Load(ref d, dat + 3 * (nuint)oc);
                        TV x;
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 0)); a0 = TL.MultiplyAdd(x, e0, a0);
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 1)); a1 = TL.MultiplyAdd(x, e0, a1); a0 = TL.MultiplyAdd(x, e1, a0);
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 2)); a2 = TL.MultiplyAdd(x, e0, a2); a1 = TL.MultiplyAdd(x, e1, a1); a0 = TL.MultiplyAdd(x, e2, a0);
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 3)); a2 = TL.MultiplyAdd(x, e1, a2); a1 = TL.MultiplyAdd(x, e2, a1); a0 = TL.MultiplyAdd(x, e3, a0);
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 4)); a2 = TL.MultiplyAdd(x, e2, a2); a1 = TL.MultiplyAdd(x, e3, a1);
                        x = TL.Broadcast(Unsafe.Add(ref x0, at + 5)); a2 = TL.MultiplyAdd(x, e3, a2);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 0)); a3 = TL.MultiplyAdd(x, e0, a3);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 1)); a4 = TL.MultiplyAdd(x, e0, a4); a3 = TL.MultiplyAdd(x, e1, a3);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 2)); a5 = TL.MultiplyAdd(x, e0, a5); a4 = TL.MultiplyAdd(x, e1, a4); a3 = TL.MultiplyAdd(x, e2, a3);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 3)); a5 = TL.MultiplyAdd(x, e1, a5); a4 = TL.MultiplyAdd(x, e2, a4); a3 = TL.MultiplyAdd(x, e3, a3);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 4)); a5 = TL.MultiplyAdd(x, e2, a5); a4 = TL.MultiplyAdd(x, e3, a4);
                        x = TL.Broadcast(Unsafe.Add(ref x1, at + 5)); a5 = TL.MultiplyAdd(x, e3, a5);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 0)); a6 = TL.MultiplyAdd(x, e0, a6);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 1)); a7 = TL.MultiplyAdd(x, e0, a7); a6 = TL.MultiplyAdd(x, e1, a6);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 2)); a8 = TL.MultiplyAdd(x, e0, a8); a7 = TL.MultiplyAdd(x, e1, a7); a6 = TL.MultiplyAdd(x, e2, a6);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 3)); a8 = TL.MultiplyAdd(x, e1, a8); a7 = TL.MultiplyAdd(x, e2, a7); a6 = TL.MultiplyAdd(x, e3, a6);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 4)); a8 = TL.MultiplyAdd(x, e2, a8); a7 = TL.MultiplyAdd(x, e3, a7);
                        x = TL.Broadcast(Unsafe.Add(ref x2, at + 5)); a8 = TL.MultiplyAdd(x, e3, a8);
                    }
                }
                for (; q < ow; q++, at += (nuint)TS.S, dat += (nuint)oc)
                {
                    d0 = TL.Load(ref d, dat);
                    a0 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x0, at + 0)), d0, a0);
                    a1 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x0, at + 1)), d0, a1);
                    a2 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x0, at + 2)), d0, a2);
                    a3 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x1, at + 0)), d0, a3);
                    a4 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x1, at + 1)), d0, a4);
                    a5 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x1, at + 2)), d0, a5);
                    a6 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x2, at + 0)), d0, a6);
                    a7 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x2, at + 1)), d0, a7);
                    a8 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref x2, at + 2)), d0, a8);
                }
            }
            Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 0) * oc + o0), a0); Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 1) * oc + o0), a1);
            Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 2) * oc + o0), a2); Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 3) * oc + o0), a3);
            Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 4) * oc + o0), a4); Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 5) * oc + o0), a5);
            Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 6) * oc + o0), a6); Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 7) * oc + o0), a7);
            Accumulate(ref Unsafe.Add(ref pa, (ci * 9 + 8) * oc + o0), a8);
        }

        static void Accumulate(ref float dst, TV a) => TL.Store(TL.Add(TL.Load(ref dst, 0), a), ref dst, 0);
    }

    /// <summary>Whether <see cref="InputGradientStride2"/> can run the input gradient: 3x3, stride 2, padding 1, input channels a multiple of <see cref="Lanes"/>.</summary>
    public static bool AppliesInputGradientStride2(in Conv2dGeometry g) => g is { KH: 3, KW: 3, PH: 1, PW: 1, SH: 2, SW: 2 } && g.C % Lanes == 0;

    // dy: (N,OC,OH,OW), w: (OC,C,3,3) -> dx: (N,C,H,W), the input gradient of the 3x3 stride-2 padding-1 convolution
    // of an (H, W) input. Input pixel (h, w) receives dy[o, r, q] w[o, c, kh, kw] where h = 2r - 1 + kh, w = 2q - 1 + kw:
    // the pixels of one parity class (h % 2, w % 2) share their taps (kh = 1 for even h, 0 and 2 for odd h; likewise
    // kw), and 7 of them in a row (columns w, w + 2, ...) read 7 consecutive dy columns. So the tiles of Forward,
    // vectorized over input channels: two segments of a class x two registers of C (or four x one), each (o, tap)
    // step broadcasting 14 dy values from a zero-padded copy of the image's dy; images split across threads.
    public static void InputGradientStride2(float[] dy, float[] w, float[] dx, int n, int c, int h, int wd, int oc)
    {
        if (!AppliesInputGradientStride2(new Conv2dGeometry(c, h, wd, 3, 3, 2, 2, 1, 1)))
            throw new ArgumentException($"ChannelConv3x3.InputGradientStride2: needs input channels a multiple of {Lanes}, got {c}.");
        switch (Conv2dKernels.Path)
        {
            case Gemm.KernelPath.Vector512: InputGradientStride2<Lanes512<float>, Vector512<float>>(dy, w, dx, n, c, h, wd, oc); break;
            case Gemm.KernelPath.Vector256: InputGradientStride2<Lanes256<float>, Vector256<float>>(dy, w, dx, n, c, h, wd, oc); break;
            default: InputGradientStride2<Lanes1<float>, float>(dy, w, dx, n, c, h, wd, oc); break;
        }
    }

    /// <summary>
    /// The padded dy of one image, (OC, OH + 2, OWp), dy at row 1, column 1; and the scratch rows of dx: pixel (h, w)
    /// at row 2 h ColsPad + w, ColsPad the 7-segments covering the even columns (2 ColsPad = W for resnet's 28 and 14).
    /// </summary>
    private readonly record struct DxLayout(int H, int W, int OH, int OW, int ColsPad, int OWp, int Plane)
    {
        public static DxLayout Of(int h, int w)
        {
            int oh = (h - 1) / 2 + 1, ow = (w - 1) / 2 + 1, colsPad = ((w + 1) / 2 + Seg - 1) / Seg * Seg;
            return new DxLayout(h, w, oh, ow, colsPad, colsPad + 2, (oh + 2) * (colsPad + 2));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputGradientStride2<TL, TV>(float[] dy, float[] w, float[] dx, int n, int c, int h, int wd, int oc)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        var lay = DxLayout.Of(h, wd);
        int ys = oc * lay.OH * lay.OW, xs = c * h * wd, scrSize = 2 * h * lay.ColsPad * c;
        // w: (OC,C,3,3) -> wt: (OC,3,3,C), so a block of input channels reads contiguous weights
        float[] wt = ArrayPool<float>.Shared.Rent(oc * c * 9);
        for (int o = 0; o < oc; o++)
            for (int ci = 0; ci < c; ci++)
                for (int k = 0; k < 9; k++) wt[(o * 9 + k) * c + ci] = w[(o * c + ci) * 9 + k];
        Parallelism.For(n, (_, start, end) =>
        {
            float[] dyp = ArrayPool<float>.Shared.Rent(oc * lay.Plane + Slack), scr = ArrayPool<float>.Shared.Rent(scrSize);
            try
            {
                for (int i = start; i < end; i++)
                {
                    // zero borders cleared once per buffer; later images overwrite the interior
                    if (i == start) dyp.AsSpan(0, oc * lay.Plane).Clear();
                    ref float src = ref MemoryMarshal.GetArrayDataReference(dy);
                    ref float dst = ref MemoryMarshal.GetArrayDataReference(dyp);
                    for (int o = 0; o < oc; o++)
                        for (int r = 0; r < lay.OH; r++)
                        {
                            int at = i * ys + (o * lay.OH + r) * lay.OW;
                            CopyRow(ref Unsafe.Add(ref src, at), dy.Length - at, ref Unsafe.Add(ref dst, o * lay.Plane + (r + 1) * lay.OWp + 1), lay.OW);
                        }
                    ImageInputGradient<TL, TV>(dyp, wt, scr, dx.AsSpan(i * xs, xs), c, oc, lay);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(dyp);
                ArrayPool<float>.Shared.Return(scr);
            }
        });
        ArrayPool<float>.Shared.Return(wt);
    }

    // dyp: (OC,OH+2,OWp), wt: (OC,3,3,C) -> dx: (C,H,W) of one image, through scr (see DxLayout)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImageInputGradient<TL, TV>(float[] dyp, float[] wt, float[] scr, Span<float> dx, int c, int oc, in DxLayout lay)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        int block = 2 * TL.Count;
        Span<int> tapDy = stackalloc int[4], tapW = stackalloc int[4];
        for (int ph = 0; ph < 2; ph++)
            for (int pw = 0; pw < 2; pw++)
            {
                int nh = (lay.H - ph + 1) / 2, ncol = (lay.W - pw + 1) / 2;
                if (nh <= 0 || ncol <= 0) continue;
                int spr = (ncol + Seg - 1) / Seg, nseg = nh * spr, taps = 0;
                // taps of the class: kh = 1 (dy row r = h / 2) for even h, kh = 0 (r = (h + 1) / 2) and 2 (r = (h - 1) / 2) for odd h
                for (int kh = 1 - ph; kh <= 1 + ph; kh += 2)
                    for (int kw = 1 - pw; kw <= 1 + pw; kw += 2)
                    {
                        tapDy[taps] = (ph + 1 - kh) / 2 * lay.OWp + (pw + 1 - kw) / 2;
                        tapW[taps++] = (kh * 3 + kw) * c;
                    }
                var cls = new DxClass(ph, pw, spr, taps);
                int c0 = 0;
                if (TL.Count == 8)
                {
                    for (; c0 < c; c0 += TL.Count)
                        for (int t = 0; t < nseg; t += 2) TileDxNarrow<TL, TV>(dyp, wt, scr, c, oc, lay, cls, tapDy, tapW, c0, t, Math.Min(t + 1, nseg - 1));
                    continue;
                }
                for (; c0 + block <= c; c0 += block)
                    for (int t = 0; t < nseg; t += 2) TileDx2<TL, TV>(dyp, wt, scr, c, oc, lay, cls, tapDy, tapW, c0, t, Math.Min(t + 1, nseg - 1));
                if (c0 < c)
                    for (int t = 0; t < nseg; t += 4)
                        TileDx1<TL, TV>(dyp, wt, scr, c, oc, lay, cls, tapDy, tapW, c0, t, Math.Min(t + 1, nseg - 1), Math.Min(t + 2, nseg - 1), Math.Min(t + 3, nseg - 1));
            }
        // (pixel, channel) -> (channel, pixel): the whole image at once where the scratch rows are the image's
        int hh = lay.H, ww = lay.W, wpad = 2 * lay.ColsPad;
        ref float ps = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float pd = ref MemoryMarshal.GetReference(dx);
        if (wpad == ww) Transpose(ref ps, hh * ww, c, c, ref pd, hh * ww);
        else
            for (int y = 0; y < hh; y++) Transpose(ref Unsafe.Add(ref ps, y * wpad * c), ww, c, c, ref Unsafe.Add(ref pd, y * ww), hh * ww);
    }

    // a parity class (h % 2, w % 2): its 7-segments per row and its tap count
    private readonly record struct DxClass(int PH, int PW, int SegsPerRow, int Taps)
    {
        // segment t's first pixel in the padded dy (before the tap offset) and in the scratch (rows of C)
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int DyBase(int t, int owp) => (t / SegsPerRow + 1) * owp + t % SegsPerRow * Seg + 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int ScratchRow(int t, int colsPad) => (PH + 2 * (t / SegsPerRow)) * 2 * colsPad + PW + 2 * (t % SegsPerRow * Seg);
    }

    // segments t, u of a class x input channels [c0, c0 + 2V): 28 accumulators, each (o, tap) step two weight loads and
    // 14 broadcasts for 28 multiply-adds
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileDx2<TL, TV>(float[] dyp, float[] wt, float[] scr, int c, int oc, in DxLayout lay, in DxClass cls, ReadOnlySpan<int> tapDy, ReadOnlySpan<int> tapW, int c0, int t, int u)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        nuint v = (nuint)TL.Count;
        ref float py = ref MemoryMarshal.GetArrayDataReference(dyp);
        ref float ya = ref Unsafe.Add(ref py, cls.DyBase(t, lay.OWp));
        ref float yb = ref Unsafe.Add(ref py, cls.DyBase(u, lay.OWp));
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), c0);
        // the stores' offsets computed before the accumulation: a call between the loop and the stores made the JIT
        // keep the accumulators on the stack as well, a store after every multiply-add (TileDx1 ran at 15% of peak)
        int sa = cls.ScratchRow(t, lay.ColsPad) * c + c0, sb = cls.ScratchRow(u, lay.ColsPad) * c + c0;
        TV a0 = TL.Zero, b0 = TL.Zero, a1 = TL.Zero, b1 = TL.Zero, a2 = TL.Zero, b2 = TL.Zero, a3 = TL.Zero, b3 = TL.Zero, a4 = TL.Zero, b4 = TL.Zero, a5 = TL.Zero, b5 = TL.Zero, a6 = TL.Zero, b6 = TL.Zero, a7 = TL.Zero, b7 = TL.Zero, a8 = TL.Zero, b8 = TL.Zero, a9 = TL.Zero, b9 = TL.Zero, a10 = TL.Zero, b10 = TL.Zero, a11 = TL.Zero, b11 = TL.Zero, a12 = TL.Zero, b12 = TL.Zero, a13 = TL.Zero, b13 = TL.Zero;
        TV x, w0, w1;
        int taps = cls.Taps, plane = lay.Plane, wstep = 9 * c;
        for (int o = 0; o < oc; o++)
            for (int tp = 0; tp < taps; tp++)
            {
                nuint d = (nuint)(o * plane + tapDy[tp]), k = (nuint)(o * wstep + tapW[tp]);
                w0 = TL.Load(ref pw, k); w1 = TL.Load(ref pw, k + v);
                x = TL.Broadcast(Unsafe.Add(ref ya, d + 0)); a0 = TL.MultiplyAdd(x, w0, a0); b0 = TL.MultiplyAdd(x, w1, b0);
                x = TL.Broadcast(Unsafe.Add(ref ya, d + 1)); a1 = TL.MultiplyAdd(x, w0, a1); b1 = TL.MultiplyAdd(x, w1, b1);
                x = TL.Broadcast(Unsafe.Add(ref ya, d + 2)); a2 = TL.MultiplyAdd(x, w0, a2); b2 = TL.MultiplyAdd(x, w1, b2);
                x = TL.Broadcast(Unsafe.Add(ref ya, d + 3)); a3 = TL.MultiplyAdd(x, w0, a3); b3 = TL.MultiplyAdd(x, w1, b3);
                x = TL.Broadcast(Unsafe.Add(ref ya, d + 4)); a4 = TL.MultiplyAdd(x, w0, a4); b4 = TL.MultiplyAdd(x, w1, b4);
                x = TL.Broadcast(Unsafe.Add(ref ya, d + 5)); a5 = TL.MultiplyAdd(x, w0, a5); b5 = TL.MultiplyAdd(x, w1, b5);
                x = TL.Broadcast(Unsafe.Add(ref ya, d + 6)); a6 = TL.MultiplyAdd(x, w0, a6); b6 = TL.MultiplyAdd(x, w1, b6);
                x = TL.Broadcast(Unsafe.Add(ref yb, d + 0)); a7 = TL.MultiplyAdd(x, w0, a7); b7 = TL.MultiplyAdd(x, w1, b7);
                x = TL.Broadcast(Unsafe.Add(ref yb, d + 1)); a8 = TL.MultiplyAdd(x, w0, a8); b8 = TL.MultiplyAdd(x, w1, b8);
                x = TL.Broadcast(Unsafe.Add(ref yb, d + 2)); a9 = TL.MultiplyAdd(x, w0, a9); b9 = TL.MultiplyAdd(x, w1, b9);
                x = TL.Broadcast(Unsafe.Add(ref yb, d + 3)); a10 = TL.MultiplyAdd(x, w0, a10); b10 = TL.MultiplyAdd(x, w1, b10);
                x = TL.Broadcast(Unsafe.Add(ref yb, d + 4)); a11 = TL.MultiplyAdd(x, w0, a11); b11 = TL.MultiplyAdd(x, w1, b11);
                x = TL.Broadcast(Unsafe.Add(ref yb, d + 5)); a12 = TL.MultiplyAdd(x, w0, a12); b12 = TL.MultiplyAdd(x, w1, b12);
                x = TL.Broadcast(Unsafe.Add(ref yb, d + 6)); a13 = TL.MultiplyAdd(x, w0, a13); b13 = TL.MultiplyAdd(x, w1, b13);
            }
        ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), sa);
        ref float db = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), sb);
        TL.Store(a0, ref da, (nuint)(0 * 2 * c)); TL.Store(b0, ref da, (nuint)(0 * 2 * c) + v);
        TL.Store(a1, ref da, (nuint)(1 * 2 * c)); TL.Store(b1, ref da, (nuint)(1 * 2 * c) + v);
        TL.Store(a2, ref da, (nuint)(2 * 2 * c)); TL.Store(b2, ref da, (nuint)(2 * 2 * c) + v);
        TL.Store(a3, ref da, (nuint)(3 * 2 * c)); TL.Store(b3, ref da, (nuint)(3 * 2 * c) + v);
        TL.Store(a4, ref da, (nuint)(4 * 2 * c)); TL.Store(b4, ref da, (nuint)(4 * 2 * c) + v);
        TL.Store(a5, ref da, (nuint)(5 * 2 * c)); TL.Store(b5, ref da, (nuint)(5 * 2 * c) + v);
        TL.Store(a6, ref da, (nuint)(6 * 2 * c)); TL.Store(b6, ref da, (nuint)(6 * 2 * c) + v);
        TL.Store(a7, ref db, (nuint)(0 * 2 * c)); TL.Store(b7, ref db, (nuint)(0 * 2 * c) + v);
        TL.Store(a8, ref db, (nuint)(1 * 2 * c)); TL.Store(b8, ref db, (nuint)(1 * 2 * c) + v);
        TL.Store(a9, ref db, (nuint)(2 * 2 * c)); TL.Store(b9, ref db, (nuint)(2 * 2 * c) + v);
        TL.Store(a10, ref db, (nuint)(3 * 2 * c)); TL.Store(b10, ref db, (nuint)(3 * 2 * c) + v);
        TL.Store(a11, ref db, (nuint)(4 * 2 * c)); TL.Store(b11, ref db, (nuint)(4 * 2 * c) + v);
        TL.Store(a12, ref db, (nuint)(5 * 2 * c)); TL.Store(b12, ref db, (nuint)(5 * 2 * c) + v);
        TL.Store(a13, ref db, (nuint)(6 * 2 * c)); TL.Store(b13, ref db, (nuint)(6 * 2 * c) + v);
    }

    // segments t, u, e, f of a class x input channels [c0, c0 + V) (a last single register): 28 accumulators
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileDx1<TL, TV>(float[] dyp, float[] wt, float[] scr, int c, int oc, in DxLayout lay, in DxClass cls, ReadOnlySpan<int> tapDy, ReadOnlySpan<int> tapW, int c0, int t, int u, int e, int f)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        ref float py = ref MemoryMarshal.GetArrayDataReference(dyp);
        ref float ya = ref Unsafe.Add(ref py, cls.DyBase(t, lay.OWp));
        ref float yb = ref Unsafe.Add(ref py, cls.DyBase(u, lay.OWp));
        ref float yc = ref Unsafe.Add(ref py, cls.DyBase(e, lay.OWp));
        ref float yd = ref Unsafe.Add(ref py, cls.DyBase(f, lay.OWp));
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), c0);
        int sa = cls.ScratchRow(t, lay.ColsPad) * c + c0, sb = cls.ScratchRow(u, lay.ColsPad) * c + c0; // before the loop, as in TileDx2
        int sc = cls.ScratchRow(e, lay.ColsPad) * c + c0, sd = cls.ScratchRow(f, lay.ColsPad) * c + c0;
        TV a0 = TL.Zero, a1 = TL.Zero, a2 = TL.Zero, a3 = TL.Zero, a4 = TL.Zero, a5 = TL.Zero, a6 = TL.Zero, a7 = TL.Zero, a8 = TL.Zero, a9 = TL.Zero, a10 = TL.Zero, a11 = TL.Zero, a12 = TL.Zero, a13 = TL.Zero, a14 = TL.Zero, a15 = TL.Zero, a16 = TL.Zero, a17 = TL.Zero, a18 = TL.Zero, a19 = TL.Zero, a20 = TL.Zero, a21 = TL.Zero, a22 = TL.Zero, a23 = TL.Zero, a24 = TL.Zero, a25 = TL.Zero, a26 = TL.Zero, a27 = TL.Zero;
        TV w0;
        int taps = cls.Taps, plane = lay.Plane, wstep = 9 * c;
        for (int o = 0; o < oc; o++)
            for (int tp = 0; tp < taps; tp++)
            {
                nuint d = (nuint)(o * plane + tapDy[tp]);
                w0 = TL.Load(ref pw, (nuint)(o * wstep + tapW[tp]));
                a0 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 0)), w0, a0);
                a1 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 1)), w0, a1);
                a2 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 2)), w0, a2);
                a3 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 3)), w0, a3);
                a4 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 4)), w0, a4);
                a5 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 5)), w0, a5);
                a6 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 6)), w0, a6);
                a7 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 0)), w0, a7);
                a8 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 1)), w0, a8);
                a9 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 2)), w0, a9);
                a10 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 3)), w0, a10);
                a11 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 4)), w0, a11);
                a12 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 5)), w0, a12);
                a13 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 6)), w0, a13);
                a14 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yc, d + 0)), w0, a14);
                a15 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yc, d + 1)), w0, a15);
                a16 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yc, d + 2)), w0, a16);
                a17 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yc, d + 3)), w0, a17);
                a18 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yc, d + 4)), w0, a18);
                a19 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yc, d + 5)), w0, a19);
                a20 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yc, d + 6)), w0, a20);
                a21 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yd, d + 0)), w0, a21);
                a22 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yd, d + 1)), w0, a22);
                a23 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yd, d + 2)), w0, a23);
                a24 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yd, d + 3)), w0, a24);
                a25 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yd, d + 4)), w0, a25);
                a26 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yd, d + 5)), w0, a26);
                a27 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yd, d + 6)), w0, a27);
            }
        ref float ps = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float da = ref Unsafe.Add(ref ps, sa);
        ref float db = ref Unsafe.Add(ref ps, sb);
        ref float dc = ref Unsafe.Add(ref ps, sc);
        ref float dd = ref Unsafe.Add(ref ps, sd);
        TL.Store(a0, ref da, (nuint)(0 * 2 * c)); TL.Store(a1, ref da, (nuint)(1 * 2 * c)); TL.Store(a2, ref da, (nuint)(2 * 2 * c)); TL.Store(a3, ref da, (nuint)(3 * 2 * c)); TL.Store(a4, ref da, (nuint)(4 * 2 * c)); TL.Store(a5, ref da, (nuint)(5 * 2 * c)); TL.Store(a6, ref da, (nuint)(6 * 2 * c));
        TL.Store(a7, ref db, (nuint)(0 * 2 * c)); TL.Store(a8, ref db, (nuint)(1 * 2 * c)); TL.Store(a9, ref db, (nuint)(2 * 2 * c)); TL.Store(a10, ref db, (nuint)(3 * 2 * c)); TL.Store(a11, ref db, (nuint)(4 * 2 * c)); TL.Store(a12, ref db, (nuint)(5 * 2 * c)); TL.Store(a13, ref db, (nuint)(6 * 2 * c));
        TL.Store(a14, ref dc, (nuint)(0 * 2 * c)); TL.Store(a15, ref dc, (nuint)(1 * 2 * c)); TL.Store(a16, ref dc, (nuint)(2 * 2 * c)); TL.Store(a17, ref dc, (nuint)(3 * 2 * c)); TL.Store(a18, ref dc, (nuint)(4 * 2 * c)); TL.Store(a19, ref dc, (nuint)(5 * 2 * c)); TL.Store(a20, ref dc, (nuint)(6 * 2 * c));
        TL.Store(a21, ref dd, (nuint)(0 * 2 * c)); TL.Store(a22, ref dd, (nuint)(1 * 2 * c)); TL.Store(a23, ref dd, (nuint)(2 * 2 * c)); TL.Store(a24, ref dd, (nuint)(3 * 2 * c)); TL.Store(a25, ref dd, (nuint)(4 * 2 * c)); TL.Store(a26, ref dd, (nuint)(5 * 2 * c)); TL.Store(a27, ref dd, (nuint)(6 * 2 * c));
    }

    // AVX2: segments t, u of a class x input channels [c0, c0 + V): 14 accumulators + a weight + a broadcast = 16
    // registers, each (o, tap) step one weight load and 14 broadcasts for 14 multiply-adds (TileDx1's first half, the
    // same sums in the same order)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileDxNarrow<TL, TV>(float[] dyp, float[] wt, float[] scr, int c, int oc, in DxLayout lay, in DxClass cls, ReadOnlySpan<int> tapDy, ReadOnlySpan<int> tapW, int c0, int t, int u)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        ref float py = ref MemoryMarshal.GetArrayDataReference(dyp);
        ref float ya = ref Unsafe.Add(ref py, cls.DyBase(t, lay.OWp));
        ref float yb = ref Unsafe.Add(ref py, cls.DyBase(u, lay.OWp));
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), c0);
        int sa = cls.ScratchRow(t, lay.ColsPad) * c + c0, sb = cls.ScratchRow(u, lay.ColsPad) * c + c0; // before the loop, as in TileDx2
        TV a0 = TL.Zero, a1 = TL.Zero, a2 = TL.Zero, a3 = TL.Zero, a4 = TL.Zero, a5 = TL.Zero, a6 = TL.Zero, a7 = TL.Zero, a8 = TL.Zero, a9 = TL.Zero, a10 = TL.Zero, a11 = TL.Zero, a12 = TL.Zero, a13 = TL.Zero;
        TV w0;
        int taps = cls.Taps, plane = lay.Plane, wstep = 9 * c;
        for (int o = 0; o < oc; o++)
            for (int tp = 0; tp < taps; tp++)
            {
                nuint d = (nuint)(o * plane + tapDy[tp]);
                w0 = TL.Load(ref pw, (nuint)(o * wstep + tapW[tp]));
                a0 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 0)), w0, a0);
                a1 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 1)), w0, a1);
                a2 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 2)), w0, a2);
                a3 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 3)), w0, a3);
                a4 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 4)), w0, a4);
                a5 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 5)), w0, a5);
                a6 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref ya, d + 6)), w0, a6);
                a7 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 0)), w0, a7);
                a8 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 1)), w0, a8);
                a9 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 2)), w0, a9);
                a10 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 3)), w0, a10);
                a11 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 4)), w0, a11);
                a12 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 5)), w0, a12);
                a13 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref yb, d + 6)), w0, a13);
            }
        ref float ps = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float da = ref Unsafe.Add(ref ps, sa);
        ref float db = ref Unsafe.Add(ref ps, sb);
        TL.Store(a0, ref da, (nuint)(0 * 2 * c)); TL.Store(a1, ref da, (nuint)(1 * 2 * c)); TL.Store(a2, ref da, (nuint)(2 * 2 * c)); TL.Store(a3, ref da, (nuint)(3 * 2 * c)); TL.Store(a4, ref da, (nuint)(4 * 2 * c)); TL.Store(a5, ref da, (nuint)(5 * 2 * c)); TL.Store(a6, ref da, (nuint)(6 * 2 * c));
        TL.Store(a7, ref db, (nuint)(0 * 2 * c)); TL.Store(a8, ref db, (nuint)(1 * 2 * c)); TL.Store(a9, ref db, (nuint)(2 * 2 * c)); TL.Store(a10, ref db, (nuint)(3 * 2 * c)); TL.Store(a11, ref db, (nuint)(4 * 2 * c)); TL.Store(a12, ref db, (nuint)(5 * 2 * c)); TL.Store(a13, ref db, (nuint)(6 * 2 * c));
    }
}
