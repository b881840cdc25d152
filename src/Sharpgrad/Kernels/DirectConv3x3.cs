using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpgrad.Kernels;

/// <summary>
/// Direct 3x3 convolution, stride 1, padding 1, float32, for output channel counts that are a multiple of 8 (the
/// exam CNN's 16 filters): each output row is computed in column chunks of one register (16 floats with AVX-512, 8
/// with AVX2, 1 on the scalar path: one generic body over <see cref="ILanes{TV, T}"/>), eight output channels at a
/// time held in registers, reading a zero-padded copy of the input. The input gradient is the
/// same kernel run on the output gradient with flipped, transposed weights. <see cref="Conv2dReference"/> is the oracle.
/// </summary>
internal static class DirectConv3x3
{
    private const int OB = 8; // output channels per register block

    /// <summary>
    /// Whether the direct kernels run this convolution: 3x3, stride 1, padding 1, 8k output channels, and vector
    /// registers (AVX-512 or AVX2; on the scalar path im2col + GEMM is faster).
    /// </summary>
    public static bool Applies(in Conv2dGeometry g, int outChannels) =>
        Conv2dKernels.Path is Gemm.KernelPath.Vector512 or Gemm.KernelPath.Vector256
        && g is { KH: 3, KW: 3, PH: 1, PW: 1 } && g.SH == g.SW && g.SH is 1 or 2 && outChannels % OB == 0;

    /// <summary>
    /// Layout of a padded input plane for stride <c>S</c> and <c>V</c>-lane chunks: H + 2 rows of <c>RS</c> = S Pw
    /// elements, each row split into S phases of Pw (phase r holds padded columns r, r + S, ...; stride 1: the row
    /// with one zero column on the left and zeros up to a whole chunk plus the halo), so tap kw of output column q
    /// is at phase kw % S, index q + kw / S. <c>Wq</c>: output row rounded up to whole chunks.
    /// </summary>
    private readonly record struct Plan(int S, int OH, int OW, int Wq, int Pw, int RS, int Tap1, int Tap2)
    {
        public static Plan Of(int h, int w, int stride, int v)
        {
            int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, wq = (ow + v - 1) / v * v;
            int pw = Math.Max(wq + 2 / stride, w / stride + 1);
            // the taps' offsets are computed here once: as divisions by the stride in each row kernel they cost four
            // integer divisions a call (a tenth of a one-input-channel row pair)
            return new Plan(stride, oh, ow, wq, pw, stride * pw, 1 % stride * pw + 1 / stride, 2 % stride * pw + 2 / stride);
        }

        // offset of tap kw (0, 1 or 2) within a padded row: kw % S * Pw + kw / S
        public int Tap(int kw) => kw switch { 0 => 0, 1 => Tap1, 2 => Tap2, _ => kw % S * Pw + kw / S };
    }

    // w: (OC,C,3,3) -> t: (C,3,3,OC), so a block of output channels reads contiguous weights; t holds at least
    // OC*C*9 values (a rented array may be longer)
    public static void TransposeWeights(ReadOnlySpan<float> w, Span<float> t, int oc, int c) => TransposeWeights(w, t, oc, c, 9);

    // w: (OC, C, taps) -> t: (C, taps, OC); taps = KH KW (1 for PointwiseConv.ForwardChannels)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void TransposeWeights(ReadOnlySpan<float> w, Span<float> t, int oc, int c, int taps)
    {
        // runs on every call (a batch-1 forward feels it): 8 x 8 blocks transposed in registers where AVX is there (the
        // element loop read one weight every C*9 floats: a tenth of resnet8's batch-1 forward), the ragged edges and
        // the scalar path element by element, without bounds checks
        int kk = c * taps;
        if (w.Length < oc * kk || t.Length < oc * kk) throw new ArgumentException($"TransposeWeights: expected {oc * kk} weights and room for them, got {w.Length} and {t.Length}.");
        int o8 = Avx.IsSupported ? oc / 8 * 8 : 0, k8 = Avx.IsSupported ? kk / 8 * 8 : 0;
        fixed (float* src = w)
        fixed (float* dst = t)
        {
            for (int k = 0; k < k8; k += 8)
                for (int o = 0; o < o8; o += 8)
                    Gemm.Transpose8x8(src + (long)o * kk + k, kk, dst + (long)k * oc + o, oc);
            for (int k = 0; k < kk; k++)
            {
                float* row = dst + (long)k * oc;
                for (int o = k < k8 ? o8 : 0; o < oc; o++) row[o] = src[(long)o * kk + k];
            }
        }
    }

    // w: (OC,C,3,3) -> t laid out for dx: w'[c, o, 2-kh, 2-kw] = w[o, c, kh, kw] (C,OC,3,3) in scratch, then transposed
    // as above to (OC,3,3,C); scratch and t hold at least OC*C*9 values
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FlippedTransposedWeights(ReadOnlySpan<float> w, Span<float> scratch, Span<float> t, int oc, int c)
    {
        int size = oc * c * 9;
        if (w.Length < size || scratch.Length < size) throw new ArgumentException($"FlippedTransposedWeights: expected {size} weights and room for them, got {w.Length} and {scratch.Length}.");
        FlipWeights(w, scratch, oc, c, 9);
        TransposeWeights(scratch[..size], t, c, oc);
    }

    // w: (OC,C,KH,KW) -> flipped: (C,OC,KH,KW), each kernel rotated by 180 degrees (its taps reversed: tap k of
    // KH KW = taps goes to taps - 1 - k): the weights of a stride-1 convolution's input gradient as a convolution of dy
    public static void FlipWeights(ReadOnlySpan<float> w, Span<float> flipped, int oc, int c, int taps)
    {
        if (w.Length < oc * c * taps || flipped.Length < oc * c * taps)
            throw new ArgumentException($"FlipWeights: expected {oc * c * taps} weights and room for them, got {w.Length} and {flipped.Length}.");
        for (int o = 0; o < oc; o++)
            for (int ci = 0; ci < c; ci++)
                for (int k = 0; k < taps; k++) flipped[(ci * oc + o) * taps + (taps - 1 - k)] = w[(o * c + ci) * taps + k];
    }

    // x: (N,C,H,W), wt: (C,3,3,OC) from TransposeWeights, b: (OC)? -> y: (N,OC,H,W), max(y, 0) when relu;
    // images split across threads
    // pool (with relu): y: (N,OC,OH/2,OW/2), the 2x2 max pooling (stride 2, floor) of the ReLU'd output, which is never
    // stored; then, with scale and shift (OC each, pool only), y * scale[o] + shift[o] (an evaluation-mode batch norm)
    public static void Forward(float[] x, float[] wt, float[]? b, float[] y, int n, int c, int h, int w, int oc, bool relu = false, int stride = 1, bool pool = false,
        float[]? scale = null, float[]? shift = null)
    {
        if ((scale is null) != (shift is null) || (scale is not null && (!pool || scale.Length < oc || shift!.Length < oc)))
            throw new ArgumentException("DirectConv3x3.Forward: a per-channel scale and shift (both, one per output channel) follow only a fused pooling.");
        if (pool && !relu) throw new ArgumentException("DirectConv3x3.Forward: pooling is fused only after a ReLU.");
        if (pool && Conv2dKernels.Path is not (Gemm.KernelPath.Vector512 or Gemm.KernelPath.Vector256))
            throw new ArgumentException("DirectConv3x3.Forward: pooling is fused only on the vector paths.");
        switch (Conv2dKernels.Path)
        {
            case Gemm.KernelPath.Vector512: Forward<Lanes512<float>, Vector512<float>>(x, wt, b, y, n, c, h, w, oc, relu, stride, new Epilogue(pool, scale, shift)); break;
            case Gemm.KernelPath.Vector256: Forward<Lanes256<float>, Vector256<float>>(x, wt, b, y, n, c, h, w, oc, relu, stride, new Epilogue(pool, scale, shift)); break;
            default: Forward<Lanes1<float>, float>(x, wt, b, y, n, c, h, w, oc, relu, stride, new Epilogue(pool, scale, shift)); break;
        }
    }

    // what follows the convolution's sums in the store: 2x2 max pooling (after the ReLU), then a per-channel affine map
    private readonly record struct Epilogue(bool Pool, float[]? Scale, float[]? Shift);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward<TL, TV>(float[] x, float[] wt, float[]? b, float[] y, int n, int c, int h, int w, int oc, bool relu, int stride, Epilogue epilogue)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        bool pool = epilogue.Pool;
        var plan = Plan.Of(h, w, stride, TL.Count);
        int xs = c * h * w, ys = pool ? oc * (plan.OH / 2) * (plan.OW / 2) : oc * plan.OH * plan.OW, planeSize = c * (h + 2) * plan.RS;
        int rowBufSize = 2 * OB * plan.Wq;
        if (n < Parallelism.Threads && oc > OB && (long)n * c * 9 * oc * plan.OH * plan.OW >= 1_000_000)
        {
            // fewer images than threads (batch-1 latency): split each image's output channels instead, when the image
            // has enough work (below ~1 M multiply-adds, e.g. the exam CNN's 0.4-0.6 M, waking a second thread cost
            // more than it saved: 88 -> 68 us for the exam CNN's batch-1 forward; resnet8's 1.8 M gain, 627 -> 451 us)
            float[] padded = ArrayPool<float>.Shared.Rent(planeSize);
            try
            {
                for (int i = 0; i < n; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, plan, padded, clear: i == 0);
                    int image = i;
                    Parallelism.For(oc / OB, (_, b0, b1) =>
                    {
                        float[] rowBuf = ArrayPool<float>.Shared.Rent(rowBufSize);
                        Image<TL, TV>(padded, wt, b, y.AsSpan(image * ys, ys), c, h, oc, plan, rowBuf, relu, epilogue, b0 * OB, b1 * OB);
                        ArrayPool<float>.Shared.Return(rowBuf);
                    });
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(padded);
            }
            return;
        }
        Parallelism.ForBalanced(n, (_, start, end) =>
        {
            float[] pad = ArrayPool<float>.Shared.Rent(planeSize);
            float[] row = ArrayPool<float>.Shared.Rent(rowBufSize);
            try
            {
                for (int i = start; i < end; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, plan, pad, clear: i == start);
                    Image<TL, TV>(pad, wt, b, y.AsSpan(i * ys, ys), c, h, oc, plan, row, relu, epilogue, 0, oc);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(row);
            }
        });
    }

    // x: (C,H,W) -> pad: (C, H+2, RS) with zero borders, rows split into phases (see Plan). The borders are the same
    // for every image of a geometry, so they are cleared only when clear is set (the buffer's first image); later
    // images overwrite just the interior.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pad(ReadOnlySpan<float> x, int c, int h, int w, in Plan plan, Span<float> pad, bool clear)
    {
        int rs = plan.RS;
        if (x.Length < c * h * w || pad.Length < c * (h + 2) * rs) throw new ArgumentException($"Pad: expected {c * h * w} values and room for {c * (h + 2) * rs}, got {x.Length} and {pad.Length}.");
        if (clear) pad[..(c * (h + 2) * rs)].Clear();
        ref float src = ref MemoryMarshal.GetReference(x);
        ref float dst = ref MemoryMarshal.GetReference(pad);
        for (int ci = 0; ci < c; ci++)
            for (int r = 0; r < h; r++)
            {
                ref float s = ref Unsafe.Add(ref src, (ci * h + r) * w);
                ref float row = ref Unsafe.Add(ref dst, (ci * (h + 2) + r + 1) * rs);
                if (plan.S == 1) MaskedStore.Copy(ref s, ref Unsafe.Add(ref row, 1), w);
                else
                {
                    // stride 2: padded column j + 1 is odd for even j (phase 1, index j / 2), even for odd j (phase 0, index (j + 1) / 2)
                    ref float odd = ref Unsafe.Add(ref row, plan.Pw);
                    for (int j = 0; j < w; j += 2) Unsafe.Add(ref odd, j >> 1) = Unsafe.Add(ref s, j);
                    for (int j = 1; j < w; j += 2) Unsafe.Add(ref row, (j + 1) >> 1) = Unsafe.Add(ref s, j);
                }
            }
    }

    // pad: (C,H+2,RS), wt: (C,3,3,OC) -> y: (OC,OH,OW) for one image, output channels [oStart, oEnd) (whole blocks
    // of 8); pool: y is (OC,OH/2,OW/2), the 2x2 max (stride 2, floor) of the (ReLU'd) output, the full-size output
    // never stored. With 512-bit registers two output rows are computed at once (16 accumulators of the 32 registers,
    // each broadcast weight feeding both rows); with 256-bit ones (16 registers) a row at a time, pooled through rowBuf.
    // rowBuf holds at least 2 * 8 * Wq floats.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image<TL, TV>(float[] pad, float[] wt, float[]? b, Span<float> y, int c, int h, int oc, in Plan plan, float[] rowBuf, bool relu, in Epilogue epilogue, int oStart, int oEnd)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        bool pool = epilogue.Pool;
        int V = TL.Count, oh = plan.OH, chunks = (plan.OW + V - 1) / V, r = 0;
        // row pairs need the 32 registers of AVX-512; below 4 input channels the pair's longer store sequence cost more
        // than it saved (c = 1, 28x28, unpooled: 0.74x of single rows), so there single rows unless pooling
        if (V >= 16 && (c >= 4 || pool))
        {
            for (; r + 1 < oh; r += 2)
                for (int o0 = oStart; o0 < oEnd; o0 += OB)
                    for (int j = chunks - 1; j >= 0; j--) // descending: a row's spill past its end is overwritten by the next row's first chunk
                        RowPair<TL, TV>(pad, wt, b, y, c, h, oc, plan, rowBuf, relu, epilogue, r, j, o0);
        }
        else if (pool)
        {
            int vb = OB * V;
            for (; r + 1 < oh; r += 2)
                for (int o0 = oStart; o0 < oEnd; o0 += OB)
                    for (int j = 0; j < chunks; j++)
                    {
                        Row<TL, TV>(pad, wt, b, c, h, oc, plan, relu, r, j, o0, rowBuf, 0, (nuint)V);
                        Row<TL, TV>(pad, wt, b, c, h, oc, plan, relu, r + 1, j, o0, rowBuf, (nuint)vb, (nuint)V);
                        ref float pr = ref MemoryMarshal.GetArrayDataReference(rowBuf);
                        for (int q = 0; q < OB; q++)
                            StorePooled<TL, TV>(TL.Max(TL.Load(ref pr, (nuint)(q * V)), TL.Load(ref pr, (nuint)(vb + q * V))), y, plan, epilogue, r, j, o0 + q);
                    }
        }
        if (pool) return;
        int w = plan.OW, hw = oh * w;
        ref float py = ref MemoryMarshal.GetReference(y);
        for (; r < oh; r++)
            for (int o0 = oStart; o0 < oEnd; o0 += OB)
                for (int j = 0; j < chunks; j++)
                {
                    int cols = Math.Min(V, w - j * V);
                    // a partial chunk is stored whole when its spill lands at the start of the next row, which the
                    // next row's first store overwrites (rows are written in order); the last row goes through the buffer
                    if (cols == V || (r < oh - 1 && w >= V - cols))
                        Row<TL, TV>(pad, wt, b, c, h, oc, plan, relu, r, j, o0, ref py, (nuint)(o0 * hw + r * w + j * V), (nuint)hw);
                    else
                    {
                        Row<TL, TV>(pad, wt, b, c, h, oc, plan, relu, r, j, o0, rowBuf, 0, (nuint)V);
                        for (int q = 0; q < OB; q++) rowBuf.AsSpan(q * V, cols).CopyTo(y.Slice((o0 + q) * hw + r * w + j * V, cols));
                    }
                }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row<TL, TV>(float[] pad, float[] wt, float[]? b, int c, int h, int oc, in Plan plan, bool relu, int r, int j, int o0, float[] dst, nuint offset, nuint step)
        where TL : struct, ILanes<TV, float> where TV : struct =>
        Row<TL, TV>(pad, wt, b, c, h, oc, plan, relu, r, j, o0, ref MemoryMarshal.GetArrayDataReference(dst), offset, step);

    // one output row's chunk j (V columns) for output channels o0..o0+7 -> dst[offset + q * step], q = 0..7
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row<TL, TV>(float[] pad, float[] wt, float[]? b, int c, int h, int oc, in Plan plan, bool relu, int r, int j, int o0, ref float dst, nuint offset, nuint step)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        int V = TL.Count, wp = plan.RS, s = plan.S, t1 = plan.Tap(1), t2 = plan.Tap(2);
        ref float pw = ref MemoryMarshal.GetArrayDataReference(wt);
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        TV a0, a1, a2, a3, a4, a5, a6, a7;
        if (b is null) a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = TL.Zero;
        else
        {
            a0 = TL.Broadcast(b[o0]); a1 = TL.Broadcast(b[o0 + 1]); a2 = TL.Broadcast(b[o0 + 2]); a3 = TL.Broadcast(b[o0 + 3]);
            a4 = TL.Broadcast(b[o0 + 4]); a5 = TL.Broadcast(b[o0 + 5]); a6 = TL.Broadcast(b[o0 + 6]); a7 = TL.Broadcast(b[o0 + 7]);
        }
        for (int ci = 0; ci < c; ci++)
        {
            for (int kh = 0; kh < 3; kh++)
            {
                int xo = (ci * (h + 2) + r * s + kh) * wp + j * V;
                for (int kw = 0; kw < 3; kw++)
                {
                    var xv = TL.Load(ref px, (nuint)(xo + (kw == 0 ? 0 : kw == 1 ? t1 : t2)));
                    ref float wv = ref Unsafe.Add(ref pw, ((ci * 3 + kh) * 3 + kw) * oc + o0);
                    a0 = TL.MultiplyAdd(TL.Broadcast(wv), xv, a0);
                    a1 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref wv, 1)), xv, a1);
                    a2 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref wv, 2)), xv, a2);
                    a3 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref wv, 3)), xv, a3);
                    a4 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref wv, 4)), xv, a4);
                    a5 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref wv, 5)), xv, a5);
                    a6 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref wv, 6)), xv, a6);
                    a7 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref wv, 7)), xv, a7);
                }
            }
        }
        if (relu)
        {
            var z = TL.Zero;
            a0 = TL.Max(a0, z); a1 = TL.Max(a1, z); a2 = TL.Max(a2, z); a3 = TL.Max(a3, z);
            a4 = TL.Max(a4, z); a5 = TL.Max(a5, z); a6 = TL.Max(a6, z); a7 = TL.Max(a7, z);
        }
        TL.Store(a0, ref dst, offset); TL.Store(a1, ref dst, offset + step); TL.Store(a2, ref dst, offset + 2 * step); TL.Store(a3, ref dst, offset + 3 * step);
        TL.Store(a4, ref dst, offset + 4 * step); TL.Store(a5, ref dst, offset + 5 * step); TL.Store(a6, ref dst, offset + 6 * step); TL.Store(a7, ref dst, offset + 7 * step);
    }

    // output rows r and r + 1, chunk j, output channels o0..o0+7: 16 accumulators; each step loads the two rows' input
    // vectors and broadcasts 8 weights, 16 multiply-adds
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowPair<TL, TV>(float[] pad, float[] wt, float[]? b, Span<float> y, int c, int h, int oc, in Plan plan, float[] rowBuf, bool relu, in Epilogue epilogue, int r, int j, int o0)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        bool pool = epilogue.Pool;
        int V = TL.Count, wp = plan.RS, s = plan.S;
        nuint t0 = 0, t1 = (nuint)plan.Tap(1), t2 = (nuint)plan.Tap(2), rs = (nuint)(s * wp);
        ref float pw = ref MemoryMarshal.GetArrayDataReference(wt);
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        TV a0, a1, a2, a3, a4, a5, a6, a7;
        if (b is null) a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = TL.Zero;
        else
        {
            a0 = TL.Broadcast(b[o0]); a1 = TL.Broadcast(b[o0 + 1]); a2 = TL.Broadcast(b[o0 + 2]); a3 = TL.Broadcast(b[o0 + 3]);
            a4 = TL.Broadcast(b[o0 + 4]); a5 = TL.Broadcast(b[o0 + 5]); a6 = TL.Broadcast(b[o0 + 6]); a7 = TL.Broadcast(b[o0 + 7]);
        }
        TV b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5, b6 = a6, b7 = a7, x0, x1, wb;
        for (int ci = 0; ci < c; ci++)
        {
            for (int kh = 0; kh < 3; kh++)
            {
                nuint xo = (nuint)((ci * (h + 2) + r * s + kh) * wp + j * V);
                ref float wk = ref Unsafe.Add(ref pw, (ci * 3 + kh) * 3 * oc + o0);
                        x0 = TL.Load(ref px, xo + t0); x1 = TL.Load(ref px, xo + t0 + rs);
                        ref float wt0 = ref Unsafe.Add(ref wk, 0);
                        wb = TL.Broadcast(wt0); a0 = TL.MultiplyAdd(wb, x0, a0); b0 = TL.MultiplyAdd(wb, x1, b0);
                        wb = TL.Broadcast(Unsafe.Add(ref wt0, 1)); a1 = TL.MultiplyAdd(wb, x0, a1); b1 = TL.MultiplyAdd(wb, x1, b1);
                        wb = TL.Broadcast(Unsafe.Add(ref wt0, 2)); a2 = TL.MultiplyAdd(wb, x0, a2); b2 = TL.MultiplyAdd(wb, x1, b2);
                        wb = TL.Broadcast(Unsafe.Add(ref wt0, 3)); a3 = TL.MultiplyAdd(wb, x0, a3); b3 = TL.MultiplyAdd(wb, x1, b3);
                        wb = TL.Broadcast(Unsafe.Add(ref wt0, 4)); a4 = TL.MultiplyAdd(wb, x0, a4); b4 = TL.MultiplyAdd(wb, x1, b4);
                        wb = TL.Broadcast(Unsafe.Add(ref wt0, 5)); a5 = TL.MultiplyAdd(wb, x0, a5); b5 = TL.MultiplyAdd(wb, x1, b5);
                        wb = TL.Broadcast(Unsafe.Add(ref wt0, 6)); a6 = TL.MultiplyAdd(wb, x0, a6); b6 = TL.MultiplyAdd(wb, x1, b6);
                        wb = TL.Broadcast(Unsafe.Add(ref wt0, 7)); a7 = TL.MultiplyAdd(wb, x0, a7); b7 = TL.MultiplyAdd(wb, x1, b7);
                        x0 = TL.Load(ref px, xo + t1); x1 = TL.Load(ref px, xo + t1 + rs);
                        ref float wt1 = ref Unsafe.Add(ref wk, oc);
                        wb = TL.Broadcast(wt1); a0 = TL.MultiplyAdd(wb, x0, a0); b0 = TL.MultiplyAdd(wb, x1, b0);
                        wb = TL.Broadcast(Unsafe.Add(ref wt1, 1)); a1 = TL.MultiplyAdd(wb, x0, a1); b1 = TL.MultiplyAdd(wb, x1, b1);
                        wb = TL.Broadcast(Unsafe.Add(ref wt1, 2)); a2 = TL.MultiplyAdd(wb, x0, a2); b2 = TL.MultiplyAdd(wb, x1, b2);
                        wb = TL.Broadcast(Unsafe.Add(ref wt1, 3)); a3 = TL.MultiplyAdd(wb, x0, a3); b3 = TL.MultiplyAdd(wb, x1, b3);
                        wb = TL.Broadcast(Unsafe.Add(ref wt1, 4)); a4 = TL.MultiplyAdd(wb, x0, a4); b4 = TL.MultiplyAdd(wb, x1, b4);
                        wb = TL.Broadcast(Unsafe.Add(ref wt1, 5)); a5 = TL.MultiplyAdd(wb, x0, a5); b5 = TL.MultiplyAdd(wb, x1, b5);
                        wb = TL.Broadcast(Unsafe.Add(ref wt1, 6)); a6 = TL.MultiplyAdd(wb, x0, a6); b6 = TL.MultiplyAdd(wb, x1, b6);
                        wb = TL.Broadcast(Unsafe.Add(ref wt1, 7)); a7 = TL.MultiplyAdd(wb, x0, a7); b7 = TL.MultiplyAdd(wb, x1, b7);
                        x0 = TL.Load(ref px, xo + t2); x1 = TL.Load(ref px, xo + t2 + rs);
                        ref float wt2 = ref Unsafe.Add(ref wk, 2 * oc);
                        wb = TL.Broadcast(wt2); a0 = TL.MultiplyAdd(wb, x0, a0); b0 = TL.MultiplyAdd(wb, x1, b0);
                        wb = TL.Broadcast(Unsafe.Add(ref wt2, 1)); a1 = TL.MultiplyAdd(wb, x0, a1); b1 = TL.MultiplyAdd(wb, x1, b1);
                        wb = TL.Broadcast(Unsafe.Add(ref wt2, 2)); a2 = TL.MultiplyAdd(wb, x0, a2); b2 = TL.MultiplyAdd(wb, x1, b2);
                        wb = TL.Broadcast(Unsafe.Add(ref wt2, 3)); a3 = TL.MultiplyAdd(wb, x0, a3); b3 = TL.MultiplyAdd(wb, x1, b3);
                        wb = TL.Broadcast(Unsafe.Add(ref wt2, 4)); a4 = TL.MultiplyAdd(wb, x0, a4); b4 = TL.MultiplyAdd(wb, x1, b4);
                        wb = TL.Broadcast(Unsafe.Add(ref wt2, 5)); a5 = TL.MultiplyAdd(wb, x0, a5); b5 = TL.MultiplyAdd(wb, x1, b5);
                        wb = TL.Broadcast(Unsafe.Add(ref wt2, 6)); a6 = TL.MultiplyAdd(wb, x0, a6); b6 = TL.MultiplyAdd(wb, x1, b6);
                        wb = TL.Broadcast(Unsafe.Add(ref wt2, 7)); a7 = TL.MultiplyAdd(wb, x0, a7); b7 = TL.MultiplyAdd(wb, x1, b7);
            }
        }
        if (relu || pool)
        {
            var z = TL.Zero;
            a0 = TL.Max(a0, z); a1 = TL.Max(a1, z); a2 = TL.Max(a2, z); a3 = TL.Max(a3, z);
            a4 = TL.Max(a4, z); a5 = TL.Max(a5, z); a6 = TL.Max(a6, z); a7 = TL.Max(a7, z);
            if (!pool)
            {
                b0 = TL.Max(b0, z); b1 = TL.Max(b1, z); b2 = TL.Max(b2, z); b3 = TL.Max(b3, z);
                b4 = TL.Max(b4, z); b5 = TL.Max(b5, z); b6 = TL.Max(b6, z); b7 = TL.Max(b7, z);
            }
        }
        if (pool)
        {
            // relu(max(a, b)) = max(relu(a), b): the ReLU once, on the first row. The eight channels' stores share
            // their position, width and mask, worked out here once (per channel they were reloaded after each store)
            int half = V / 2, pooledW = plan.OW / 2, pooledCols = Math.Min(half, pooledW - j * half);
            if (pooledCols <= 0) return;
            int plane = plan.OH / 2 * pooledW, at = (o0 * (plan.OH / 2) + r / 2) * pooledW + j * half;
            if ((uint)(at + 7 * plane + pooledCols) > (uint)y.Length) throw new ArgumentOutOfRangeException(nameof(y), $"RowPair: pooled rows past the output ({y.Length}).");
            ref float py = ref MemoryMarshal.GetReference(y);
            var mask = TL.FirstLanes(pooledCols);
            if (epilogue.Scale is { } scale)
            {
                var shift = epilogue.Shift!;
                if ((uint)(o0 + 7) >= (uint)scale.Length || (uint)(o0 + 7) >= (uint)shift.Length) throw new ArgumentOutOfRangeException(nameof(epilogue), "RowPair: scale or shift shorter than the channels.");
                ref float sc = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scale), o0);
                ref float sh = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(shift), o0);
                PooledAffine<TL, TV>(TL.Max(a0, b0), ref py, (nuint)at, mask, sc, sh);
                PooledAffine<TL, TV>(TL.Max(a1, b1), ref py, (nuint)(at + plane), mask, Unsafe.Add(ref sc, 1), Unsafe.Add(ref sh, 1));
                PooledAffine<TL, TV>(TL.Max(a2, b2), ref py, (nuint)(at + 2 * plane), mask, Unsafe.Add(ref sc, 2), Unsafe.Add(ref sh, 2));
                PooledAffine<TL, TV>(TL.Max(a3, b3), ref py, (nuint)(at + 3 * plane), mask, Unsafe.Add(ref sc, 3), Unsafe.Add(ref sh, 3));
                PooledAffine<TL, TV>(TL.Max(a4, b4), ref py, (nuint)(at + 4 * plane), mask, Unsafe.Add(ref sc, 4), Unsafe.Add(ref sh, 4));
                PooledAffine<TL, TV>(TL.Max(a5, b5), ref py, (nuint)(at + 5 * plane), mask, Unsafe.Add(ref sc, 5), Unsafe.Add(ref sh, 5));
                PooledAffine<TL, TV>(TL.Max(a6, b6), ref py, (nuint)(at + 6 * plane), mask, Unsafe.Add(ref sc, 6), Unsafe.Add(ref sh, 6));
                PooledAffine<TL, TV>(TL.Max(a7, b7), ref py, (nuint)(at + 7 * plane), mask, Unsafe.Add(ref sc, 7), Unsafe.Add(ref sh, 7));
            }
            else
            {
                TL.StoreMasked(TL.PairMax(TL.Max(a0, b0)), ref py, (nuint)at, mask);
                TL.StoreMasked(TL.PairMax(TL.Max(a1, b1)), ref py, (nuint)(at + plane), mask);
                TL.StoreMasked(TL.PairMax(TL.Max(a2, b2)), ref py, (nuint)(at + 2 * plane), mask);
                TL.StoreMasked(TL.PairMax(TL.Max(a3, b3)), ref py, (nuint)(at + 3 * plane), mask);
                TL.StoreMasked(TL.PairMax(TL.Max(a4, b4)), ref py, (nuint)(at + 4 * plane), mask);
                TL.StoreMasked(TL.PairMax(TL.Max(a5, b5)), ref py, (nuint)(at + 5 * plane), mask);
                TL.StoreMasked(TL.PairMax(TL.Max(a6, b6)), ref py, (nuint)(at + 6 * plane), mask);
                TL.StoreMasked(TL.PairMax(TL.Max(a7, b7)), ref py, (nuint)(at + 7 * plane), mask);
            }
            return;
        }
        int w = plan.OW, oh = plan.OH, hw = oh * w, cols = Math.Min(V, w - j * V);
        StoreRow<TL, TV>(a0, a1, a2, a3, a4, a5, a6, a7, y, rowBuf, hw, w, oh, r, j, o0, cols);
        StoreRow<TL, TV>(b0, b1, b2, b3, b4, b5, b6, b7, y, rowBuf, hw, w, oh, r + 1, j, o0, cols);
    }

    // the 8 channels' chunk j of row r: whole when it fits or its spill lands in the next row (written later), else
    // through rowBuf
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<TL, TV>(TV a0, TV a1, TV a2, TV a3, TV a4, TV a5, TV a6, TV a7, Span<float> y, float[] rowBuf, int hw, int w, int oh, int r, int j, int o0, int cols)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        int V = TL.Count;
        bool direct = cols == V || (r < oh - 1 && w >= V - cols);
        ref float d = ref direct ? ref MemoryMarshal.GetReference(y) : ref MemoryMarshal.GetArrayDataReference(rowBuf);
        nuint o = direct ? (nuint)(o0 * hw + r * w + j * V) : 0, sp = direct ? (nuint)hw : (nuint)V;
        TL.Store(a0, ref d, o); TL.Store(a1, ref d, o + sp); TL.Store(a2, ref d, o + 2 * sp); TL.Store(a3, ref d, o + 3 * sp);
        TL.Store(a4, ref d, o + 4 * sp); TL.Store(a5, ref d, o + 5 * sp); TL.Store(a6, ref d, o + 6 * sp); TL.Store(a7, ref d, o + 7 * sp);
        if (!direct)
            for (int q = 0; q < OB; q++) rowBuf.AsSpan(q * V, cols).CopyTo(y.Slice((o0 + q) * hw + r * w + j * V, cols));
    }

    // m: the row-wise max of two output rows -> their pooled columns, times scale, plus shift (two roundings, as the
    // unfused Mul and Add), at destination + index
    // (the lanes mask selects: the first cols of the lower half)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PooledAffine<TL, TV>(TV m, ref float destination, nuint index, TV mask, float scale, float shift)
        where TL : struct, ILanes<TV, float> where TV : struct =>
        TL.StoreMasked(TL.Add(TL.Multiply(TL.PairMax(m), TL.Broadcast(scale)), TL.Broadcast(shift)), ref destination, index, mask);

    // m: the row-wise max of output rows r, r + 1 (chunk j) of channel o -> the pooled row r / 2's columns from j * V / 2
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePooled<TL, TV>(TV m, Span<float> y, in Plan plan, in Epilogue epilogue, int r, int j, int o)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        int half = TL.Count / 2, pw = plan.OW / 2, cols = Math.Min(half, pw - j * half);
        if (cols <= 0) return;
        int at = (o * (plan.OH / 2) + r / 2) * pw + j * half;
        var p = TL.PairMax(m);
        if (epilogue.Scale is { } scale) p = TL.Add(TL.Multiply(p, TL.Broadcast(scale[o])), TL.Broadcast(epilogue.Shift![o])); // a product, then a sum: the unfused Mul and Add
        TL.StoreLower(p, ref MemoryMarshal.GetReference(y), (nuint)at, cols);
    }

    // x: (N,C,H,W), dy: (N,OC,H,W) -> dw: (OC,C,3,3) = sum over images and pixels of dy[o] * shifted x[c];
    // images split into fixed chunks whose partial sums are added in chunk order (deterministic per thread count)
    public static void WeightGradient(float[] x, float[] dy, float[] dw, int n, int c, int h, int w, int oc, int stride = 1)
    {
        switch (Conv2dKernels.Path)
        {
            case Gemm.KernelPath.Vector512: WeightGradient<Lanes512<float>, Vector512<float>>(x, dy, dw, n, c, h, w, oc, stride); break;
            case Gemm.KernelPath.Vector256: WeightGradient<Lanes256<float>, Vector256<float>>(x, dy, dw, n, c, h, w, oc, stride); break;
            default: WeightGradient<Lanes1<float>, float>(x, dy, dw, n, c, h, w, oc, stride); break;
        }
    }

    /// <summary>
    /// The weight and bias gradients of a convolution followed by 2x2 max pooling (stride 2, no padding), from the
    /// pooled gradient: dy = the pooling's backward of <paramref name="dpool"/> (each value routed to its window's
    /// <paramref name="argmax"/>, zeros elsewhere), built one image at a time in a scratch that stays in cache instead of
    /// a whole-batch tensor written and read back, then the same per-image kernel as <see cref="WeightGradient"/>; db is
    /// summed per image and channel as <see cref="Conv2dKernels.Backward{T}"/> sums it, so both are bitwise what the
    /// unfused ops give. x: (N,C,H,W), dpool: (N,OC,OH/2,OW/2), argmax: per pooled value its index in the (OH,OW) plane
    /// -> dw: (OC,C,3,3), db: (OC)?.
    /// </summary>
    public static void WeightGradientFromPooled(float[] x, float[] dpool, int[] argmax, float[] dw, float[]? db, int n, int c, int h, int w, int oc, int stride = 1)
    {
        switch (Conv2dKernels.Path)
        {
            case Gemm.KernelPath.Vector512: WeightGradient<Lanes512<float>, Vector512<float>>(x, dpool, dw, n, c, h, w, oc, stride, argmax, db); break;
            case Gemm.KernelPath.Vector256: WeightGradient<Lanes256<float>, Vector256<float>>(x, dpool, dw, n, c, h, w, oc, stride, argmax, db); break;
            default: WeightGradient<Lanes1<float>, float>(x, dpool, dw, n, c, h, w, oc, stride, argmax, db); break;
        }
    }

    // argmax null: dy is (N,OC,OH,OW); else dy is the pooled gradient (N,OC,OH/2,OW/2) with its argmax, unpooled per
    // image into scratch, and db (when given) the bias gradient summed as Conv2dKernels.Backward does
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradient<TL, TV>(float[] x, float[] dy, float[] dw, int n, int c, int h, int w, int oc, int stride, int[]? argmax = null, float[]? db = null)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        var plan = Plan.Of(h, w, stride, TL.Count);
        int oh = plan.OH, ow = plan.OW, wq = plan.Wq, tail = ow % TL.Count;
        int xs = c * h * w, ys = oc * oh * ow, chunks = Parallelism.Chunks(n), size = oc * c * 9;
        var pooling = new Conv2dGeometry(oc, oh, ow, 2, 2, 2, 2, 0, 0);
        int pys = oc * pooling.L;
        if (argmax is null ? dy.Length < (long)n * ys : dy.Length < (long)n * pys || argmax.Length < (long)n * pys)
            throw new ArgumentException($"WeightGradient: expected {(argmax is null ? n * ys : n * pys)} output gradients, got {dy.Length}.");
        // per-chunk sums, added in chunk order: one pooled block of chunks x size
        float[] partial = ArrayPool<float>.Shared.Rent(chunks * size);
        float[] partialB = db is null ? [] : ArrayPool<float>.Shared.Rent(chunks * oc);
        if (db is not null) partialB.AsSpan(0, chunks * oc).Clear();
        Parallelism.For(n, chunks, (chunk, start, end) =>
        {
            float[] pad = ArrayPool<float>.Shared.Rent(c * (h + 2) * plan.RS);
            // the unpooled gradient of one image
            float[]? unpooled = argmax is null ? null : ArrayPool<float>.Shared.Rent(ys);
            // dy rows narrower than a register: copied once per image into rows padded with zeros to whole registers
            // when each row is then read 3C times (C >= 4: the copy costs less than masked loads); otherwise read in
            // place, the last partial register of a row through a masked load (c = 1: the copy cost more than the sums)
            bool copy = tail != 0 && c >= 4;
            float[]? dyp = copy ? ArrayPool<float>.Shared.Rent(oc * oh * wq) : null;
            // per-lane sums over the chunk's images; the lanes are added once at the end (a horizontal sum per
            // weight per image would cost more than the multiply-adds on 14x14 images)
            var lanes = ArrayPool<TV>.Shared.Rent(size);
            lanes.AsSpan(0, size).Clear();
            try
            {
                for (int i = start; i < end; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, plan, pad, clear: i == start);
                    float[] src = dy;
                    int at = i * ys;
                    if (unpooled is not null)
                    {
                        PoolKernels.MaxBackward<float>(dy.AsSpan(i * pys, pys), argmax.AsSpan(i * pys, pys), unpooled.AsSpan(0, ys), oc, pooling);
                        (src, at) = (unpooled, 0);
                        if (db is not null)
                            for (int o = 0; o < oc; o++) partialB[chunk * oc + o] += System.Numerics.Tensors.TensorPrimitives.Sum<float>(unpooled.AsSpan(o * oh * ow, oh * ow));
                    }
                    if (dyp is null) ImageWeightGradient<TL, TV>(pad, src, at, ow, lanes, c, h, oc, plan);
                    else
                    {
                        // the zeros past each row stay from the chunk's first image on
                        if (i == start) dyp.AsSpan(0, oc * oh * wq).Clear();
                        ref float ds = ref MemoryMarshal.GetArrayDataReference(src);
                        ref float dd = ref MemoryMarshal.GetArrayDataReference(dyp);
                        for (int r = 0; r < oc * oh; r++) MaskedStore.Copy(ref Unsafe.Add(ref ds, at + r * ow), ref Unsafe.Add(ref dd, r * wq), ow);
                        ImageWeightGradient<TL, TV>(pad, dyp, 0, wq, lanes, c, h, oc, plan);
                    }
                }
                var acc = partial.AsSpan(chunk * size, size);
                for (int k = 0; k < size; k++) acc[k] = TL.Sum(lanes[k]);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                if (dyp is not null) ArrayPool<float>.Shared.Return(dyp);
                if (unpooled is not null) ArrayPool<float>.Shared.Return(unpooled);
                ArrayPool<TV>.Shared.Return(lanes);
            }
        });
        partial.AsSpan(0, size).CopyTo(dw);
        for (int k = 1; k < chunks; k++) System.Numerics.Tensors.TensorPrimitives.Add(dw.AsSpan(0, size), partial.AsSpan(k * size, size), dw.AsSpan(0, size));
        ArrayPool<float>.Shared.Return(partial);
        if (db is not null)
        {
            // in chunk order, as Conv2dKernels' SumChunks
            partialB.AsSpan(0, oc).CopyTo(db);
            for (int k = 1; k < chunks; k++) System.Numerics.Tensors.TensorPrimitives.Add(db.AsSpan(0, oc), partialB.AsSpan(k * oc, oc), db.AsSpan(0, oc));
            ArrayPool<float>.Shared.Return(partialB);
        }
    }

    // pad: (C,H+2,RS), d[offset..]: (OC,OH,rowLength) holding dy: (OC,OH,OW) -> lanes: (OC,C,3,3) of per-lane partial
    // sums += the image's weight gradient. Four output channels by the three taps of a kernel row in 12 registers: each
    // step loads 4 dy and 3 shifted x vectors for 12 multiply-adds. Rows of d are read in whole registers up to
    // rowLength and a last partial register through a masked load (zeros past the row), so lanes past OW add nothing.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ImageWeightGradient<TL, TV>(float[] pad, float[] d, int offset, int rowLength, TV[] lanes, int c, int h, int oc, in Plan plan)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        int V = TL.Count, wp = plan.RS, oh = plan.OH, full = rowLength / V, tail = rowLength - full * V, step = oh * rowLength, s = plan.S;
        nuint t1 = (nuint)plan.Tap(1), t2 = (nuint)plan.Tap(2);
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float pd = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(d), offset);
        TV last = TL.FirstLanes(tail);
        for (int o0 = 0; o0 < oc; o0 += 4)
        {
            for (int ci = 0; ci < c; ci++)
            for (int kh = 0; kh < 3; kh++)
            {
                TV a00 = TL.Zero, a01 = TL.Zero, a02 = TL.Zero, a10 = TL.Zero, a11 = TL.Zero, a12 = TL.Zero;
                TV a20 = TL.Zero, a21 = TL.Zero, a22 = TL.Zero, a30 = TL.Zero, a31 = TL.Zero, a32 = TL.Zero;
                for (int r = 0; r < oh; r++)
                {
                    int xo = (ci * (h + 2) + r * s + kh) * wp;
                    int dO = (o0 * oh + r) * rowLength;
                    // whole registers with plain loads, then the row's partial last register with masked ones
                    int j = 0;
                    for (; j < full; j++)
                    {
                        nuint xb = (nuint)(xo + j * V), db = (nuint)(dO + j * V);
                        var x0 = TL.Load(ref px, xb);
                        var x1 = TL.Load(ref px, xb + t1);
                        var x2 = TL.Load(ref px, xb + t2);
                        var dv = TL.Load(ref pd, db);
                        a00 = TL.MultiplyAdd(dv, x0, a00);
                        a01 = TL.MultiplyAdd(dv, x1, a01);
                        a02 = TL.MultiplyAdd(dv, x2, a02);
                        dv = TL.Load(ref pd, db + (nuint)step);
                        a10 = TL.MultiplyAdd(dv, x0, a10);
                        a11 = TL.MultiplyAdd(dv, x1, a11);
                        a12 = TL.MultiplyAdd(dv, x2, a12);
                        dv = TL.Load(ref pd, db + (nuint)(2 * step));
                        a20 = TL.MultiplyAdd(dv, x0, a20);
                        a21 = TL.MultiplyAdd(dv, x1, a21);
                        a22 = TL.MultiplyAdd(dv, x2, a22);
                        dv = TL.Load(ref pd, db + (nuint)(3 * step));
                        a30 = TL.MultiplyAdd(dv, x0, a30);
                        a31 = TL.MultiplyAdd(dv, x1, a31);
                        a32 = TL.MultiplyAdd(dv, x2, a32);
                    }
                    if (tail != 0)
                    {
                        nuint xb = (nuint)(xo + j * V), db = (nuint)(dO + j * V);
                        var x0 = TL.Load(ref px, xb);
                        var x1 = TL.Load(ref px, xb + t1);
                        var x2 = TL.Load(ref px, xb + t2);
                        var dv = TL.LoadMasked(ref pd, db, last);
                        a00 = TL.MultiplyAdd(dv, x0, a00);
                        a01 = TL.MultiplyAdd(dv, x1, a01);
                        a02 = TL.MultiplyAdd(dv, x2, a02);
                        dv = TL.LoadMasked(ref pd, db + (nuint)step, last);
                        a10 = TL.MultiplyAdd(dv, x0, a10);
                        a11 = TL.MultiplyAdd(dv, x1, a11);
                        a12 = TL.MultiplyAdd(dv, x2, a12);
                        dv = TL.LoadMasked(ref pd, db + (nuint)(2 * step), last);
                        a20 = TL.MultiplyAdd(dv, x0, a20);
                        a21 = TL.MultiplyAdd(dv, x1, a21);
                        a22 = TL.MultiplyAdd(dv, x2, a22);
                        dv = TL.LoadMasked(ref pd, db + (nuint)(3 * step), last);
                        a30 = TL.MultiplyAdd(dv, x0, a30);
                        a31 = TL.MultiplyAdd(dv, x1, a31);
                        a32 = TL.MultiplyAdd(dv, x2, a32);
                    }
                }
                int k = (o0 * c + ci) * 9 + kh * 3, stride = c * 9;
                lanes[k] = TL.Add(lanes[k], a00); lanes[k + 1] = TL.Add(lanes[k + 1], a01); lanes[k + 2] = TL.Add(lanes[k + 2], a02);
                lanes[k + stride] = TL.Add(lanes[k + stride], a10); lanes[k + stride + 1] = TL.Add(lanes[k + stride + 1], a11); lanes[k + stride + 2] = TL.Add(lanes[k + stride + 2], a12);
                lanes[k + 2 * stride] = TL.Add(lanes[k + 2 * stride], a20); lanes[k + 2 * stride + 1] = TL.Add(lanes[k + 2 * stride + 1], a21); lanes[k + 2 * stride + 2] = TL.Add(lanes[k + 2 * stride + 2], a22);
                lanes[k + 3 * stride] = TL.Add(lanes[k + 3 * stride], a30); lanes[k + 3 * stride + 1] = TL.Add(lanes[k + 3 * stride + 1], a31); lanes[k + 3 * stride + 2] = TL.Add(lanes[k + 3 * stride + 2], a32);
            }
        }
    }
}
