using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>
/// Direct 3x3 convolution, stride 1, padding 1, float32, for output channel counts that are a multiple of 8 (the
/// exam CNN's 16 filters): each output row is computed in 16-wide column chunks (one Vector512&lt;float&gt;), eight
/// output channels at a time held in registers, reading a zero-padded copy of the input. The input gradient is the
/// same kernel run on the output gradient with flipped, transposed weights. <see cref="Conv2dReference"/> is the oracle.
/// </summary>
internal static class DirectConv3x3
{
    private const int V = 16; // floats per chunk
    private const int OB = 8; // output channels per register block

    public static bool Applies(in Conv2dGeometry g, int outChannels) =>
        Vector512.IsHardwareAccelerated && g is { KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1 } && outChannels % OB == 0;

    /// <summary>Width of a padded input row: one zero column on the left, the row, zeros up to a whole chunk plus the right halo.</summary>
    private static int PaddedWidth(int w) => (w + V - 1) / V * V + 2;

    // w: (OC,C,3,3) -> (C,3,3,OC), so a block of output channels reads contiguous weights
    public static float[] TransposeWeights(ReadOnlySpan<float> w, int oc, int c)
    {
        // runs on every call (a batch-1 forward feels it): written in order, without bounds checks
        var t = GC.AllocateUninitializedArray<float>(oc * c * 9);
        if (w.Length < t.Length) throw new ArgumentException($"TransposeWeights: expected {t.Length} weights, got {w.Length}.");
        ref float src = ref MemoryMarshal.GetReference(w);
        ref float dst = ref MemoryMarshal.GetArrayDataReference(t);
        int kk = c * 9;
        for (int k = 0; k < kk; k++)
        {
            ref float row = ref Unsafe.Add(ref dst, k * oc);
            for (int o = 0; o < oc; o++) Unsafe.Add(ref row, o) = Unsafe.Add(ref src, o * kk + k);
        }
        return t;
    }

    // w: (OC,C,3,3) -> (OC,C,3,3) laid out for dx: w'[c, o, 2-kh, 2-kw] = w[o, c, kh, kw], then transposed as above
    public static float[] FlippedTransposedWeights(ReadOnlySpan<float> w, int oc, int c)
    {
        var f = new float[w.Length]; // (C, OC, 3, 3)
        for (int o = 0; o < oc; o++)
            for (int ci = 0; ci < c; ci++)
                for (int k = 0; k < 9; k++) f[(ci * oc + o) * 9 + (8 - k)] = w[(o * c + ci) * 9 + k];
        return TransposeWeights(f, c, oc);
    }

    // x: (N,C,H,W), wt: (C,3,3,OC) from TransposeWeights, b: (OC)? -> y: (N,OC,H,W), max(y, 0) when relu;
    // images split across threads
    public static void Forward(float[] x, float[] wt, float[]? b, float[] y, int n, int c, int h, int w, int oc, bool relu = false)
    {
        int xs = c * h * w, ys = oc * h * w;
        if (n < Parallelism.Threads && oc > OB && (long)n * c * 9 * ys >= 200_000)
        {
            // fewer images than threads (batch-1 latency): split each image's output channels instead
            int wpad = PaddedWidth(w);
            float[] padded = ArrayPool<float>.Shared.Rent(c * (h + 2) * wpad);
            try
            {
                for (int i = 0; i < n; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, padded);
                    int image = i;
                    Parallelism.For(oc / OB, (_, b0, b1) =>
                    {
                        float[] rowBuf = ArrayPool<float>.Shared.Rent(OB * (wpad - 2));
                        Image(padded, wt, b, y.AsSpan(image * ys, ys), c, h, w, oc, rowBuf, relu, b0 * OB, b1 * OB);
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
        Parallelism.For(n, (_, start, end) =>
        {
            int wp = PaddedWidth(w);
            float[] pad = ArrayPool<float>.Shared.Rent(c * (h + 2) * wp);
            float[] row = ArrayPool<float>.Shared.Rent(OB * (wp - 2));
            try
            {
                for (int i = start; i < end; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, pad);
                    Image(pad, wt, b, y.AsSpan(i * ys, ys), c, h, w, oc, row, relu, 0, oc);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(row);
            }
        });
    }

    // x: (C,H,W) -> pad: (C, H+2, wp) with zero borders
    private static void Pad(ReadOnlySpan<float> x, int c, int h, int w, Span<float> pad)
    {
        int wp = PaddedWidth(w);
        pad[..(c * (h + 2) * wp)].Clear();
        for (int ci = 0; ci < c; ci++)
            for (int r = 0; r < h; r++)
                x.Slice((ci * h + r) * w, w).CopyTo(pad.Slice((ci * (h + 2) + r + 1) * wp + 1, w));
    }

    // pad: (C,H+2,wp), wt: (C,3,3,OC) -> y: (OC,H,W) for one image, output channels [oStart, oEnd) (whole blocks of 8)
    private static void Image(float[] pad, float[] wt, float[]? b, Span<float> y, int c, int h, int w, int oc, float[] rowBuf, bool relu, int oStart, int oEnd)
    {
        int wp = PaddedWidth(w), chunks = (w + V - 1) / V, hw = h * w;
        ref float pw = ref MemoryMarshal.GetArrayDataReference(wt);
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float pr = ref MemoryMarshal.GetArrayDataReference(rowBuf);
        for (int o0 = oStart; o0 < oEnd; o0 += OB)
        {
            for (int r = 0; r < h; r++)
            {
                for (int j = 0; j < chunks; j++)
                {
                    Vector512<float> a0, a1, a2, a3, a4, a5, a6, a7;
                    if (b is null) a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = Vector512<float>.Zero;
                    else
                    {
                        a0 = Vector512.Create(b[o0]); a1 = Vector512.Create(b[o0 + 1]); a2 = Vector512.Create(b[o0 + 2]); a3 = Vector512.Create(b[o0 + 3]);
                        a4 = Vector512.Create(b[o0 + 4]); a5 = Vector512.Create(b[o0 + 5]); a6 = Vector512.Create(b[o0 + 6]); a7 = Vector512.Create(b[o0 + 7]);
                    }
                    for (int ci = 0; ci < c; ci++)
                    {
                        for (int kh = 0; kh < 3; kh++)
                        {
                            int xo = (ci * (h + 2) + r + kh) * wp + j * V;
                            for (int kw = 0; kw < 3; kw++)
                            {
                                var xv = Vector512.LoadUnsafe(ref px, (nuint)(xo + kw));
                                ref float wv = ref Unsafe.Add(ref pw, ((ci * 3 + kh) * 3 + kw) * oc + o0);
                                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(wv), xv, a0);
                                a1 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref wv, 1)), xv, a1);
                                a2 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref wv, 2)), xv, a2);
                                a3 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref wv, 3)), xv, a3);
                                a4 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref wv, 4)), xv, a4);
                                a5 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref wv, 5)), xv, a5);
                                a6 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref wv, 6)), xv, a6);
                                a7 = Vector512.FusedMultiplyAdd(Vector512.Create(Unsafe.Add(ref wv, 7)), xv, a7);
                            }
                        }
                    }
                    if (relu)
                    {
                        var z = Vector512<float>.Zero;
                        a0 = Vector512.Max(a0, z); a1 = Vector512.Max(a1, z); a2 = Vector512.Max(a2, z); a3 = Vector512.Max(a3, z);
                        a4 = Vector512.Max(a4, z); a5 = Vector512.Max(a5, z); a6 = Vector512.Max(a6, z); a7 = Vector512.Max(a7, z);
                    }
                    int cols = Math.Min(V, w - j * V);
                    // a partial chunk is stored whole when its spill lands at the start of the next row, which the
                    // next row's first store overwrites (rows are written in order); the last row goes through the buffer
                    if (cols == V || (r < h - 1 && w >= V - cols))
                    {
                        int o = r * w + j * V;
                        a0.CopyTo(y.Slice(o0 * hw + o)); a1.CopyTo(y.Slice((o0 + 1) * hw + o));
                        a2.CopyTo(y.Slice((o0 + 2) * hw + o)); a3.CopyTo(y.Slice((o0 + 3) * hw + o));
                        a4.CopyTo(y.Slice((o0 + 4) * hw + o)); a5.CopyTo(y.Slice((o0 + 5) * hw + o));
                        a6.CopyTo(y.Slice((o0 + 6) * hw + o)); a7.CopyTo(y.Slice((o0 + 7) * hw + o));
                    }
                    else
                    {
                        a0.StoreUnsafe(ref pr, 0); a1.StoreUnsafe(ref pr, V); a2.StoreUnsafe(ref pr, 2 * V); a3.StoreUnsafe(ref pr, 3 * V);
                        a4.StoreUnsafe(ref pr, 4 * V); a5.StoreUnsafe(ref pr, 5 * V); a6.StoreUnsafe(ref pr, 6 * V); a7.StoreUnsafe(ref pr, 7 * V);
                        for (int q = 0; q < OB; q++) rowBuf.AsSpan(q * V, cols).CopyTo(y.Slice((o0 + q) * hw + r * w + j * V, cols));
                    }
                }
            }
        }
    }

    // x: (N,C,H,W), dy: (N,OC,H,W) -> dw: (OC,C,3,3) = sum over images and pixels of dy[o] * shifted x[c];
    // images split into fixed chunks whose partial sums are added in chunk order (deterministic per thread count)
    public static void WeightGradient(float[] x, float[] dy, float[] dw, int n, int c, int h, int w, int oc)
    {
        int xs = c * h * w, ys = oc * h * w, chunks = Parallelism.Chunks(n);
        var partial = new float[chunks][];
        Parallelism.For(n, chunks, (chunk, start, end) =>
        {
            int wp = PaddedWidth(w), wq = wp - 2;
            float[] pad = ArrayPool<float>.Shared.Rent(c * (h + 2) * wp);
            float[] dyp = ArrayPool<float>.Shared.Rent(oc * h * wq);
            // per-lane sums over the chunk's images; the 16 lanes are added once at the end (a horizontal sum per
            // weight per image would cost more than the multiply-adds on 14x14 images)
            var lanes = ArrayPool<Vector512<float>>.Shared.Rent(oc * c * 9);
            lanes.AsSpan(0, oc * c * 9).Clear();
            var acc = new float[oc * c * 9];
            try
            {
                for (int i = start; i < end; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, pad);
                    // dy rows padded with zeros to whole chunks, so full-vector loads never read the next row
                    var d = dy.AsSpan(i * ys, ys);
                    dyp.AsSpan(0, oc * h * wq).Clear();
                    for (int r = 0; r < oc * h; r++) d.Slice(r * w, w).CopyTo(dyp.AsSpan(r * wq, w));
                    ImageWeightGradient(pad, dyp, lanes, c, h, w, oc);
                }
                for (int k = 0; k < acc.Length; k++) acc[k] = Vector512.Sum(lanes[k]);
                partial[chunk] = acc;
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(dyp);
                ArrayPool<Vector512<float>>.Shared.Return(lanes);
            }
        });
        partial[0].CopyTo(dw, 0);
        for (int k = 1; k < chunks; k++) System.Numerics.Tensors.TensorPrimitives.Add(dw, partial[k], dw);
    }

    // pad: (C,H+2,wp), dyp: (OC,H,wp-2) -> lanes: (OC,C,3,3) of 16-lane partial sums += the image's weight gradient.
    // Four output channels by the three taps of a kernel row in 12 registers: each step loads 4 dy and 3 shifted x
    // vectors for 12 multiply-adds.
    private static void ImageWeightGradient(float[] pad, float[] dyp, Vector512<float>[] lanes, int c, int h, int w, int oc)
    {
        int wp = PaddedWidth(w), wq = wp - 2, chunks = wq / V, step = h * wq;
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float pd = ref MemoryMarshal.GetArrayDataReference(dyp);
        for (int o0 = 0; o0 < oc; o0 += 4)
        {
            for (int ci = 0; ci < c; ci++)
            for (int kh = 0; kh < 3; kh++)
            {
                Vector512<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default;
                Vector512<float> a20 = default, a21 = default, a22 = default, a30 = default, a31 = default, a32 = default;
                for (int r = 0; r < h; r++)
                {
                    int xo = (ci * (h + 2) + r + kh) * wp;
                    int dO = (o0 * h + r) * wq;
                    for (int j = 0; j < chunks; j++)
                    {
                        nuint xb = (nuint)(xo + j * V), db = (nuint)(dO + j * V);
                        var x0 = Vector512.LoadUnsafe(ref px, xb);
                        var x1 = Vector512.LoadUnsafe(ref px, xb + 1);
                        var x2 = Vector512.LoadUnsafe(ref px, xb + 2);
                        var d = Vector512.LoadUnsafe(ref pd, db);
                        a00 = Vector512.FusedMultiplyAdd(d, x0, a00);
                        a01 = Vector512.FusedMultiplyAdd(d, x1, a01);
                        a02 = Vector512.FusedMultiplyAdd(d, x2, a02);
                        d = Vector512.LoadUnsafe(ref pd, db + (nuint)step);
                        a10 = Vector512.FusedMultiplyAdd(d, x0, a10);
                        a11 = Vector512.FusedMultiplyAdd(d, x1, a11);
                        a12 = Vector512.FusedMultiplyAdd(d, x2, a12);
                        d = Vector512.LoadUnsafe(ref pd, db + (nuint)(2 * step));
                        a20 = Vector512.FusedMultiplyAdd(d, x0, a20);
                        a21 = Vector512.FusedMultiplyAdd(d, x1, a21);
                        a22 = Vector512.FusedMultiplyAdd(d, x2, a22);
                        d = Vector512.LoadUnsafe(ref pd, db + (nuint)(3 * step));
                        a30 = Vector512.FusedMultiplyAdd(d, x0, a30);
                        a31 = Vector512.FusedMultiplyAdd(d, x1, a31);
                        a32 = Vector512.FusedMultiplyAdd(d, x2, a32);
                    }
                }
                int k = (o0 * c + ci) * 9 + kh * 3, stride = c * 9;
                lanes[k] += a00; lanes[k + 1] += a01; lanes[k + 2] += a02;
                lanes[k + stride] += a10; lanes[k + stride + 1] += a11; lanes[k + stride + 2] += a12;
                lanes[k + 2 * stride] += a20; lanes[k + 2 * stride + 1] += a21; lanes[k + 2 * stride + 2] += a22;
                lanes[k + 3 * stride] += a30; lanes[k + 3 * stride + 1] += a31; lanes[k + 3 * stride + 2] += a32;
            }
        }
    }
}
