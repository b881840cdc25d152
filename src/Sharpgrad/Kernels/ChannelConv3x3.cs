using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpgrad.Kernels;

/// <summary>
/// Direct 3x3 convolution, stride 1 or 2, padding 1, float32, vectorized over output channels instead of output
/// columns (<see cref="DirectConv3x3"/>): a register holds one output pixel's V consecutive output channels, so every
/// lane is used whatever the map width (the row kernel fills 7 of 16 lanes on a 7-wide map). A tile is two segments of
/// 7 output pixels of a row (two rows of a 7-wide map) by two channel vectors: 28 accumulators; each (ci, kh, kw) step
/// loads two weight vectors of the transposed weights (C,3,3,OC) and broadcasts one input value per pixel from a
/// zero-padded copy of the image. The tile stores (pixel, channel) into a per-image scratch that is then transposed
/// to (OC, OH, OW). Needs OC a multiple of V (16 with AVX-512); a last single register of channels runs four segments
/// by one register. The weight gradient runs the same tiles turned around (OC a multiple of 2 V), and the stride-2
/// input gradient the same tiles per parity class of input pixels (C a multiple of V). <see cref="Conv2dReference"/>
/// is the oracle; <see cref="Conv2dKernels"/> chooses between these and <see cref="DirectConv3x3"/>.
/// </summary>
internal static partial class ChannelConv3x3
{
    /// <summary>Output pixels per segment (a tile is two segments).</summary>
    public const int Segment = 7;

    private const int Seg = Segment;

    /// <summary>Floats per register on the current path (V): a tile covers two registers of output channels, or one for the last.</summary>
    public static int Lanes => Conv2dKernels.Path switch
    {
        Gemm.KernelPath.Vector512 => Vector512<float>.Count,
        Gemm.KernelPath.Vector256 => Vector256<float>.Count,
        _ => 1,
    };

    /// <summary>Whether <see cref="Forward"/> can run the convolution: 3x3, stride 1 or 2, padding 1, output channels a multiple of <see cref="Lanes"/>.</summary>
    public static bool Applies(in Conv2dGeometry g, int outChannels) =>
        g is { KH: 3, KW: 3, PH: 1, PW: 1 } && g.SH == g.SW && g.SH is 1 or 2 && outChannels % Lanes == 0;

    /// <summary>Whether <see cref="WeightGradient"/> can: as <see cref="Applies"/> (output channels a multiple of <see cref="Lanes"/>; a last single register of them runs its own 9-accumulator loop).</summary>
    public static bool AppliesWeightGradient(in Conv2dGeometry g, int outChannels) => Applies(g, outChannels);

    private interface IStride
    {
        static abstract int S { get; }
    }

    private readonly struct Stride1 : IStride
    {
        public static int S => 1;
    }

    private readonly struct Stride2 : IStride
    {
        public static int S => 2;
    }

    /// <summary>
    /// A padded image: (C, H + 2, Wp), the input at row 1, column 1; Wp covers every segment's reads (the last
    /// segment of a row may run past the output row: its extra pixels are computed and never stored). Output pixel
    /// (r, q) lands at scratch row r OWp + q.
    /// </summary>
    private readonly record struct Layout(int S, int OH, int OW, int SegsPerRow, int Wp, int Plane, int SegLen = Seg)
    {
        public static Layout Of(int h, int w, int stride, int seg = Seg)
        {
            int oh = (h - 1) / stride + 1, ow = (w - 1) / stride + 1, spr = (ow + seg - 1) / seg;
            int wp = Math.Max(w + 2, (spr * seg - 1) * stride + 3);
            // one zero row more than the padding: TileIS computes output rows in pairs
            return new Layout(stride, oh, ow, spr, wp, (h + 3) * wp, seg);
        }

        // the layout Forward and the pooled forms tile: AVX2's stride-1 rows 8 or 16 or 32 pixels wide in segments of 8
        // (TileRowIS8: 16 and 32 columns in 7-pixel segments computed 21 and 35), otherwise 7
        public static Layout For<TL, TV>(int h, int w, int stride) where TL : struct, ILanes<TV, float> where TV : struct
        {
            int ow = (w - 1) / stride + 1;
            return Of(h, w, stride, TL.Count == 8 && stride == 1 && ow % 8 == 0 && ow % Seg != 0 && !Seg8Off ? 8 : Seg);
        }

        public int OWp => SegsPerRow * SegLen;
    }

    /// <summary>Whether AVX2 keeps 7-pixel segments on rows a multiple of 8 wide: the benchmarks' switch, off otherwise.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (alternating windows in one process): the exam CNN at 3x32x32
    // (32- and 16-wide rows) Predict at batch 256 1.17x (median 1.16x), batch 1 1.14x (1.18x), training step at batch
    // 64 1.13x (1.11x)
    internal static bool Seg8Off;

    /// <summary>
    /// With AVX2 (a third of AVX-512's multiply-adds a cycle), a batch-1 image is split across the threads from this
    /// many multiply-adds instead of <see cref="Parallelism.MinParallelMacs"/>: a layer's work lasts three times as
    /// long, so the second thread's start and wait cost less of it.
    /// </summary>
    // measured on the 2-core AMD EPYC without AVX-512 (Predict at batch 1, alternating windows in one process) against
    // the AVX-512 bound: resnet20 1.32x (median 1.52x), resnet8 1.26x (1.11x), cnn3 1.02x (1.04x)
    internal const long MinParallelMacsAvx2 = 500_000;

    // x: (N,C,H,W), wt: (C,3,3,OC) from DirectConv3x3.TransposeWeights, b: (OC)? -> y: (N,OC,OH,OW), max(y, 0) when
    // relu; images split across threads (output channel blocks when there are fewer images than threads)
    public static void Forward(float[] x, float[] wt, float[]? b, float[] y, int n, int c, int h, int w, int oc, bool relu = false, int stride = 1)
    {
        if (!Applies(new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1), oc))
            throw new ArgumentException($"ChannelConv3x3.Forward: needs stride 1 or 2 and output channels a multiple of {Lanes}, got stride {stride} and {oc}.");
        switch (Conv2dKernels.Path)
        {
            case Gemm.KernelPath.Vector512: Forward<Lanes512<float>, Vector512<float>>(x, wt, b, y, n, c, h, w, oc, relu, stride); break;
            case Gemm.KernelPath.Vector256: Forward<Lanes256<float>, Vector256<float>>(x, wt, b, y, n, c, h, w, oc, relu, stride); break;
            default: Forward<Lanes1<float>, float>(x, wt, b, y, n, c, h, w, oc, relu, stride); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward<TL, TV>(float[] x, float[] wt, float[]? b, float[] y, int n, int c, int h, int w, int oc, bool relu, int stride)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        var lay = Layout.For<TL, TV>(h, w, stride);
        int block = 2 * TL.Count, xs = c * h * w, ys = oc * lay.OH * lay.OW, padSize = c * lay.Plane, scrSize = (lay.OH + 1) * lay.OWp * oc;
        int threads = Parallelism.Threads;
        long minMacs = TL.Count == 8 ? MinParallelMacsAvx2 : Parallelism.MinParallelMacs;
        if (n < threads && (long)n * c * 9 * oc * lay.OH * lay.OW >= minMacs && (oc > block || lay.OH >= 4))
        {
            // fewer images than threads (batch-1 latency) and enough work (Parallelism.MinParallelMacs: resnet8's 1.8M
            // multiply-add layers ran slower split): each image's output channel blocks split, as DirectConv3x3, or,
            // with fewer blocks than threads (16 or 32 filters), its output rows in pairs
            float[] pad = ArrayPool<float>.Shared.Rent(padSize + Slack), scr = ArrayPool<float>.Shared.Rent(scrSize);
            try
            {
                int blocks = (oc + block - 1) / block, pairs = (lay.OH + 1) / 2;
                for (int i = 0; i < n; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, lay, pad, clear: i == 0);
                    int image = i;
                    if (blocks >= threads)
                        Parallelism.For(blocks, (_, b0, b1) => Image<TL, TV>(pad, wt, b, y.AsSpan(image * ys, ys), scr, c, oc, lay, relu, b0 * block, Math.Min(b1 * block, oc)));
                    else
                        Parallelism.For(pairs, (_, p0, p1) => Image<TL, TV>(pad, wt, b, y.AsSpan(image * ys, ys), scr, c, oc, lay, relu, 0, oc, 2 * p0, Math.Min(2 * p1, lay.OH)));
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(scr);
            }
            return;
        }
        Parallelism.ForBalanced(n, (_, start, end) =>
        {
            float[] pad = ArrayPool<float>.Shared.Rent(padSize + Slack), scr = ArrayPool<float>.Shared.Rent(scrSize);
            try
            {
                for (int i = start; i < end; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, lay, pad, clear: i == start);
                    Image<TL, TV>(pad, wt, b, y.AsSpan(i * ys, ys), scr, c, oc, lay, relu, 0, oc);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(scr);
            }
        });
    }

    // x: (C,H,W) -> pad: (C,H+2,Wp), zero borders cleared only when clear is set (the buffer's first image; later
    // images overwrite just the interior)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pad(ReadOnlySpan<float> x, int c, int h, int w, in Layout lay, Span<float> pad, bool clear)
    {
        int wp = lay.Wp;
        if (x.Length < c * h * w || pad.Length < c * lay.Plane) throw new ArgumentException($"Pad: expected {c * h * w} values and room for {c * lay.Plane}, got {x.Length} and {pad.Length}.");
        if (clear) pad[..(c * lay.Plane)].Clear();
        if (pad.Length < c * lay.Plane + Slack) throw new ArgumentException($"Pad: expected room for {c * lay.Plane + Slack}, got {pad.Length}.");
        ref float src = ref MemoryMarshal.GetReference(x);
        ref float dst = ref MemoryMarshal.GetReference(pad);
        for (int ci = 0; ci < c; ci++)
            for (int r = 0; r < h; r++)
            {
                int at = (ci * h + r) * w;
                CopyRow(ref Unsafe.Add(ref src, at), x.Length - at, ref Unsafe.Add(ref dst, ci * lay.Plane + (r + 1) * wp + 1), w);
            }
    }

    // floats a padded buffer holds past its planes, for CopyRow's spill
    private const int Slack = 16;

    // src[0..w) -> dst[0..w) and zeros after, up to the next multiple of 16 (8 on AVX2): whole vectors with the tail
    // lanes cleared (a masked copy per row cost 15-25% of a narrow map's forward). The zeros may land on the row's
    // right border, the next row's left border (both zero) or the start of the next row's interior, which the caller
    // writes later (rows in order), or in the buffer's Slack; avail: floats readable from src.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRow(ref float src, int avail, ref float dst, int w)
    {
        int k = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; k + 16 <= w; k += 16) Vector512.LoadUnsafe(ref src, (nuint)k).StoreUnsafe(ref dst, (nuint)k);
            if (k < w && k + 16 <= avail)
            {
                var keep = Vector512.LessThan(Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create((float)(w - k)));
                Vector512.ConditionalSelect(keep, Vector512.LoadUnsafe(ref src, (nuint)k), Vector512<float>.Zero).StoreUnsafe(ref dst, (nuint)k);
                return;
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            // the same with 8-float vectors (AVX2: masked stores are slow on AMD, and a row's tail is most of a 7- or
            // 14-wide row)
            for (; k + 8 <= w; k += 8) Vector256.LoadUnsafe(ref src, (nuint)k).StoreUnsafe(ref dst, (nuint)k);
            if (k < w && k + 8 <= avail)
            {
                var keep = Vector256.LessThan(Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7), Vector256.Create((float)(w - k)));
                Vector256.ConditionalSelect(keep, Vector256.LoadUnsafe(ref src, (nuint)k), Vector256<float>.Zero).StoreUnsafe(ref dst, (nuint)k);
                return;
            }
        }
        if (k < w) MaskedStore.Copy(ref Unsafe.Add(ref src, k), ref Unsafe.Add(ref dst, k), w - k);
    }

    // pad: (C,H+2,Wp), wt: (C,3,3,OC) -> y: (OC,OH,OW) for one image, output channels [oStart, oEnd) (whole registers);
    // scr: (OH OWp, OC) scratch, of which only the columns [oStart, oEnd) are touched (threads share it per image)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image<TL, TV>(float[] pad, float[] wt, float[]? b, Span<float> y, float[] scr, int c, int oc, in Layout lay, bool relu, int oStart, int oEnd)
        where TL : struct, ILanes<TV, float> where TV : struct =>
        Image<TL, TV>(pad, wt, b, y, scr, c, oc, lay, relu, oStart, oEnd, 0, lay.OH);

    // the same for the output rows [rStart, rEnd) only (rStart even: segments pair within the range and the
    // input-stationary tiles take rows in pairs), so that threads can share one image by rows
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image<TL, TV>(float[] pad, float[] wt, float[]? b, Span<float> y, float[] scr, int c, int oc, in Layout lay, bool relu, int oStart, int oEnd,
        int rStart, int rEnd)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        Tiles<TL, TV>(pad, wt, b, scr, c, oc, lay, relu, oStart, oEnd, rStart, rEnd);
        // (pixel, channel) -> (channel, pixel): the whole image at once where the segments fill the rows exactly
        int oh = lay.OH, ow = lay.OW, owp = lay.OWp, l = oh * ow;
        ref float ps = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), oStart);
        ref float py = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), oStart * l);
        if (owp == ow) Transpose(ref Unsafe.Add(ref ps, rStart * ow * oc), (rEnd - rStart) * ow, oEnd - oStart, oc, ref Unsafe.Add(ref py, rStart * ow), l);
        else
            for (int r = rStart; r < rEnd; r++) Transpose(ref Unsafe.Add(ref ps, r * owp * oc), ow, oEnd - oStart, oc, ref Unsafe.Add(ref py, r * ow), l);
    }

    // pad: (C,H+2,Wp), wt: (C,3,3,OC) -> scr: (OH OWp, OC) for one image, output channels [oStart, oEnd) and rows
    // [rStart, rEnd) (rStart even), pixel-major
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tiles<TL, TV>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, in Layout lay, bool relu, int oStart, int oEnd,
        int rStart, int rEnd)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        if (rStart % 2 != 0 || rStart < 0 || rEnd > lay.OH) throw new ArgumentException($"ChannelConv3x3.Image: rows [{rStart}, {rEnd}) must start even and lie in [0, {lay.OH}).");
        int block = 2 * TL.Count, s0 = rStart * lay.SegsPerRow, nseg = rEnd * lay.SegsPerRow, o0 = oStart;
        if (TL.Count == 8)
        {
            // AVX2: 16 registers hold one register of channels by one segment input-stationary at stride 1 (TileRowIS)
            // or by two segments (TileNarrow), not Tile's 28 accumulators; every register of channels runs it (an odd
            // last segment pairs with itself)
            if (lay.SegLen == 8)
            {
                for (; o0 < oEnd; o0 += TL.Count)
                    TileRowIS8<TL, TV>(pad, wt, b, scr, c, oc, lay, relu, o0, s0, nseg);
                return;
            }
            if (lay.S == 1 && !RowISOff)
            {
                for (; o0 < oEnd; o0 += TL.Count)
                    TileRowIS<TL, TV>(pad, wt, b, scr, c, oc, lay, relu, o0, s0, nseg);
                return;
            }
            for (; o0 < oEnd; o0 += TL.Count)
                for (int t = s0; t < nseg; t += 2)
                {
                    int u = t + 1 < nseg ? t + 1 : t;
                    if (lay.S == 1) TileNarrow<TL, TV, Stride1>(pad, wt, b, scr, c, oc, lay, relu, o0, t, u);
                    else TileNarrow<TL, TV, Stride2>(pad, wt, b, scr, c, oc, lay, relu, o0, t, u);
                }
            return;
        }
        for (; o0 + block <= oEnd; o0 += block)
            for (int t = s0; t < nseg; t += 2)
            {
                // an odd last segment (7-pixel rows with an odd row count) runs alone: half a tile
                if (t + 1 == nseg && !PairOddSegment)
                {
                    if (lay.S == 1) TileHalf<TL, TV, Stride1>(pad, wt, b, scr, c, oc, lay, relu, o0, t);
                    else TileHalf<TL, TV, Stride2>(pad, wt, b, scr, c, oc, lay, relu, o0, t);
                    continue;
                }
                int u = t + 1 < nseg ? t + 1 : t;
                if (lay.S == 1) Tile<TL, TV, Stride1>(pad, wt, b, scr, c, oc, lay, relu, o0, t, u);
                else Tile<TL, TV, Stride2>(pad, wt, b, scr, c, oc, lay, relu, o0, t, u);
            }
        if (o0 < oEnd && lay.S == 1)
        {
            // one register of channels left, stride 1: input-stationary tiles of two rows (an odd last row pairs with
            // a row computed from the extra zero row and dropped by the transpose)
            for (int r = rStart; r < rEnd; r += 2)
                for (int q0 = 0; q0 < lay.OWp; q0 += Seg) TileIS<TL, TV>(pad, wt, b, scr, c, oc, lay, relu, o0, r, q0);
        }
        else if (o0 < oEnd)
            for (int t = s0; t < nseg; t += 4)
            {
                // one register of channels left (OC an odd multiple of V): four segments; missing ones repeat the last
                int u = Math.Min(t + 1, nseg - 1), e = Math.Min(t + 2, nseg - 1), f = Math.Min(t + 3, nseg - 1);
                if (lay.S == 1) Tile1<TL, TV, Stride1>(pad, wt, b, scr, c, oc, lay, relu, o0, t, u, e, f);
                else Tile1<TL, TV, Stride2>(pad, wt, b, scr, c, oc, lay, relu, o0, t, u, e, f);
            }
    }

    // segments t and u (7 output pixels each) x output channels [o0, o0 + 2V) -> scr rows of their pixels: 28
    // accumulators, each (ci, kh, kw) step two weight loads and 14 broadcasts for 28 multiply-adds; clamped when relu
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TL, TV, TS>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, in Layout lay, bool relu, int o0, int t, int u)
        where TL : struct, ILanes<TV, float> where TV : struct where TS : struct, IStride
    {
        int spr = lay.SegsPerRow, wp = lay.Wp, plane = lay.Plane, owp = lay.OWp;
        int ra = t / spr, qa = t % spr * Seg, rb = u / spr, qb = u % spr * Seg;
        nuint v = (nuint)TL.Count, step = (nuint)oc;
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float xa = ref Unsafe.Add(ref px, ra * TS.S * wp + qa * TS.S);
        ref float xb = ref Unsafe.Add(ref px, rb * TS.S * wp + qb * TS.S);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), o0);
        TV i0 = TL.Zero, i1 = TL.Zero;
        if (b is not null)
        {
            ref float pb = ref MemoryMarshal.GetArrayDataReference(b);
            i0 = TL.Load(ref pb, (nuint)o0);
            i1 = TL.Load(ref pb, (nuint)o0 + v);
        }
        TV a0 = i0, b0 = i1, a1 = i0, b1 = i1, a2 = i0, b2 = i1, a3 = i0, b3 = i1, a4 = i0, b4 = i1, a5 = i0, b5 = i1, a6 = i0, b6 = i1, a7 = i0, b7 = i1, a8 = i0, b8 = i1, a9 = i0, b9 = i1, a10 = i0, b10 = i1, a11 = i0, b11 = i1, a12 = i0, b12 = i1, a13 = i0, b13 = i1;
        TV x, w0, w1;
        nuint k = 0;
        for (int ci = 0; ci < c; ci++)
            for (int kh = 0; kh < 3; kh++)
            {
                nuint off = (nuint)(ci * plane + kh * wp);
                for (int kw = 0; kw < 3; kw++, off++, k += step)
                {
                    w0 = TL.Load(ref pw, k); w1 = TL.Load(ref pw, k + v);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(0 * TS.S))); a0 = TL.MultiplyAdd(x, w0, a0); b0 = TL.MultiplyAdd(x, w1, b0);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(1 * TS.S))); a1 = TL.MultiplyAdd(x, w0, a1); b1 = TL.MultiplyAdd(x, w1, b1);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(2 * TS.S))); a2 = TL.MultiplyAdd(x, w0, a2); b2 = TL.MultiplyAdd(x, w1, b2);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(3 * TS.S))); a3 = TL.MultiplyAdd(x, w0, a3); b3 = TL.MultiplyAdd(x, w1, b3);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(4 * TS.S))); a4 = TL.MultiplyAdd(x, w0, a4); b4 = TL.MultiplyAdd(x, w1, b4);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(5 * TS.S))); a5 = TL.MultiplyAdd(x, w0, a5); b5 = TL.MultiplyAdd(x, w1, b5);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(6 * TS.S))); a6 = TL.MultiplyAdd(x, w0, a6); b6 = TL.MultiplyAdd(x, w1, b6);
                    x = TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(0 * TS.S))); a7 = TL.MultiplyAdd(x, w0, a7); b7 = TL.MultiplyAdd(x, w1, b7);
                    x = TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(1 * TS.S))); a8 = TL.MultiplyAdd(x, w0, a8); b8 = TL.MultiplyAdd(x, w1, b8);
                    x = TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(2 * TS.S))); a9 = TL.MultiplyAdd(x, w0, a9); b9 = TL.MultiplyAdd(x, w1, b9);
                    x = TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(3 * TS.S))); a10 = TL.MultiplyAdd(x, w0, a10); b10 = TL.MultiplyAdd(x, w1, b10);
                    x = TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(4 * TS.S))); a11 = TL.MultiplyAdd(x, w0, a11); b11 = TL.MultiplyAdd(x, w1, b11);
                    x = TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(5 * TS.S))); a12 = TL.MultiplyAdd(x, w0, a12); b12 = TL.MultiplyAdd(x, w1, b12);
                    x = TL.Broadcast(Unsafe.Add(ref xb, off + (nuint)(6 * TS.S))); a13 = TL.MultiplyAdd(x, w0, a13); b13 = TL.MultiplyAdd(x, w1, b13);
                }
            }
        if (relu)
        {
            var z = TL.Zero;
            a0 = TL.Max(a0, z); b0 = TL.Max(b0, z);
            a1 = TL.Max(a1, z); b1 = TL.Max(b1, z);
            a2 = TL.Max(a2, z); b2 = TL.Max(b2, z);
            a3 = TL.Max(a3, z); b3 = TL.Max(b3, z);
            a4 = TL.Max(a4, z); b4 = TL.Max(b4, z);
            a5 = TL.Max(a5, z); b5 = TL.Max(b5, z);
            a6 = TL.Max(a6, z); b6 = TL.Max(b6, z);
            a7 = TL.Max(a7, z); b7 = TL.Max(b7, z);
            a8 = TL.Max(a8, z); b8 = TL.Max(b8, z);
            a9 = TL.Max(a9, z); b9 = TL.Max(b9, z);
            a10 = TL.Max(a10, z); b10 = TL.Max(b10, z);
            a11 = TL.Max(a11, z); b11 = TL.Max(b11, z);
            a12 = TL.Max(a12, z); b12 = TL.Max(b12, z);
            a13 = TL.Max(a13, z); b13 = TL.Max(b13, z);
        }
        ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), (ra * owp + qa) * oc + o0);
        ref float db = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), (rb * owp + qb) * oc + o0);
        TL.Store(a0, ref da, (nuint)(0 * oc)); TL.Store(b0, ref da, (nuint)(0 * oc) + v);
        TL.Store(a1, ref da, (nuint)(1 * oc)); TL.Store(b1, ref da, (nuint)(1 * oc) + v);
        TL.Store(a2, ref da, (nuint)(2 * oc)); TL.Store(b2, ref da, (nuint)(2 * oc) + v);
        TL.Store(a3, ref da, (nuint)(3 * oc)); TL.Store(b3, ref da, (nuint)(3 * oc) + v);
        TL.Store(a4, ref da, (nuint)(4 * oc)); TL.Store(b4, ref da, (nuint)(4 * oc) + v);
        TL.Store(a5, ref da, (nuint)(5 * oc)); TL.Store(b5, ref da, (nuint)(5 * oc) + v);
        TL.Store(a6, ref da, (nuint)(6 * oc)); TL.Store(b6, ref da, (nuint)(6 * oc) + v);
        TL.Store(a7, ref db, (nuint)(0 * oc)); TL.Store(b7, ref db, (nuint)(0 * oc) + v);
        TL.Store(a8, ref db, (nuint)(1 * oc)); TL.Store(b8, ref db, (nuint)(1 * oc) + v);
        TL.Store(a9, ref db, (nuint)(2 * oc)); TL.Store(b9, ref db, (nuint)(2 * oc) + v);
        TL.Store(a10, ref db, (nuint)(3 * oc)); TL.Store(b10, ref db, (nuint)(3 * oc) + v);
        TL.Store(a11, ref db, (nuint)(4 * oc)); TL.Store(b11, ref db, (nuint)(4 * oc) + v);
        TL.Store(a12, ref db, (nuint)(5 * oc)); TL.Store(b12, ref db, (nuint)(5 * oc) + v);
        TL.Store(a13, ref db, (nuint)(6 * oc)); TL.Store(b13, ref db, (nuint)(6 * oc) + v);
    }

    /// <summary>Whether an odd last segment runs as a whole tile paired with itself (computed twice) instead of <see cref="TileHalf"/>: the tests' oracle for the half tile, off otherwise.</summary>
    // the half tile, measured on the 2-core AVX-512 VM of issue #11 (Predict at batch 256, alternating 100-ms windows
    // in one process, least of 15): cnn3 1.06x, resnet8 1.02x, resnet20 1.03x (their 7x7 stage computed 8 segments for 7)
    internal static bool PairOddSegment;

    // segment t alone (7 output pixels) x output channels [o0, o0 + 2V) -> scr rows of its pixels: Tile's first half,
    // 14 accumulators, each (ci, kh, kw) step two weight loads and 7 broadcasts for 14 multiply-adds (the same sums
    // in the same order as Tile); clamped when relu
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileHalf<TL, TV, TS>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, in Layout lay, bool relu, int o0, int t)
        where TL : struct, ILanes<TV, float> where TV : struct where TS : struct, IStride
    {
        int spr = lay.SegsPerRow, wp = lay.Wp, plane = lay.Plane, owp = lay.OWp;
        int ra = t / spr, qa = t % spr * Seg;
        nuint v = (nuint)TL.Count, step = (nuint)oc;
        ref float xa = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(pad), ra * TS.S * wp + qa * TS.S);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), o0);
        TV i0 = TL.Zero, i1 = TL.Zero;
        if (b is not null)
        {
            ref float pb = ref MemoryMarshal.GetArrayDataReference(b);
            i0 = TL.Load(ref pb, (nuint)o0);
            i1 = TL.Load(ref pb, (nuint)o0 + v);
        }
        TV a0 = i0, b0 = i1, a1 = i0, b1 = i1, a2 = i0, b2 = i1, a3 = i0, b3 = i1, a4 = i0, b4 = i1, a5 = i0, b5 = i1, a6 = i0, b6 = i1;
        TV x, w0, w1;
        nuint k = 0;
        for (int ci = 0; ci < c; ci++)
            for (int kh = 0; kh < 3; kh++)
            {
                nuint off = (nuint)(ci * plane + kh * wp);
                for (int kw = 0; kw < 3; kw++, off++, k += step)
                {
                    w0 = TL.Load(ref pw, k); w1 = TL.Load(ref pw, k + v);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(0 * TS.S))); a0 = TL.MultiplyAdd(x, w0, a0); b0 = TL.MultiplyAdd(x, w1, b0);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(1 * TS.S))); a1 = TL.MultiplyAdd(x, w0, a1); b1 = TL.MultiplyAdd(x, w1, b1);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(2 * TS.S))); a2 = TL.MultiplyAdd(x, w0, a2); b2 = TL.MultiplyAdd(x, w1, b2);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(3 * TS.S))); a3 = TL.MultiplyAdd(x, w0, a3); b3 = TL.MultiplyAdd(x, w1, b3);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(4 * TS.S))); a4 = TL.MultiplyAdd(x, w0, a4); b4 = TL.MultiplyAdd(x, w1, b4);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(5 * TS.S))); a5 = TL.MultiplyAdd(x, w0, a5); b5 = TL.MultiplyAdd(x, w1, b5);
                    x = TL.Broadcast(Unsafe.Add(ref xa, off + (nuint)(6 * TS.S))); a6 = TL.MultiplyAdd(x, w0, a6); b6 = TL.MultiplyAdd(x, w1, b6);
                }
            }
        if (relu)
        {
            var z = TL.Zero;
            a0 = TL.Max(a0, z); b0 = TL.Max(b0, z);
            a1 = TL.Max(a1, z); b1 = TL.Max(b1, z);
            a2 = TL.Max(a2, z); b2 = TL.Max(b2, z);
            a3 = TL.Max(a3, z); b3 = TL.Max(b3, z);
            a4 = TL.Max(a4, z); b4 = TL.Max(b4, z);
            a5 = TL.Max(a5, z); b5 = TL.Max(b5, z);
            a6 = TL.Max(a6, z); b6 = TL.Max(b6, z);
        }
        ref float da = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), (ra * owp + qa) * oc + o0);
        TL.Store(a0, ref da, (nuint)(0 * oc)); TL.Store(b0, ref da, (nuint)(0 * oc) + v);
        TL.Store(a1, ref da, (nuint)(1 * oc)); TL.Store(b1, ref da, (nuint)(1 * oc) + v);
        TL.Store(a2, ref da, (nuint)(2 * oc)); TL.Store(b2, ref da, (nuint)(2 * oc) + v);
        TL.Store(a3, ref da, (nuint)(3 * oc)); TL.Store(b3, ref da, (nuint)(3 * oc) + v);
        TL.Store(a4, ref da, (nuint)(4 * oc)); TL.Store(b4, ref da, (nuint)(4 * oc) + v);
        TL.Store(a5, ref da, (nuint)(5 * oc)); TL.Store(b5, ref da, (nuint)(5 * oc) + v);
        TL.Store(a6, ref da, (nuint)(6 * oc)); TL.Store(b6, ref da, (nuint)(6 * oc) + v);
    }

    // segments t, u, e, f (7 output pixels each) x output channels [o0, o0 + V) -> scr rows of their pixels, for
    // filter counts that are an odd multiple of V (one register): 28 accumulators, each (ci, kh, kw) step one weight
    // load and 28 broadcasts for 28 multiply-adds; clamped when relu
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile1<TL, TV, TS>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, in Layout lay, bool relu, int o0, int t, int u, int e, int f)
        where TL : struct, ILanes<TV, float> where TV : struct where TS : struct, IStride
    {
        int spr = lay.SegsPerRow, wp = lay.Wp, plane = lay.Plane, owp = lay.OWp;
        ref float px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float ps = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float xa = ref Unsafe.Add(ref px, t / spr * TS.S * wp + t % spr * Seg * TS.S);
        ref float xb = ref Unsafe.Add(ref px, u / spr * TS.S * wp + u % spr * Seg * TS.S);
        ref float xc = ref Unsafe.Add(ref px, e / spr * TS.S * wp + e % spr * Seg * TS.S);
        ref float xd = ref Unsafe.Add(ref px, f / spr * TS.S * wp + f % spr * Seg * TS.S);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), o0);
        TV i0 = b is null ? TL.Zero : TL.Load(ref MemoryMarshal.GetArrayDataReference(b), (nuint)o0);
        TV a0 = i0, a1 = i0, a2 = i0, a3 = i0, a4 = i0, a5 = i0, a6 = i0, a7 = i0, a8 = i0, a9 = i0, a10 = i0, a11 = i0, a12 = i0, a13 = i0, a14 = i0, a15 = i0, a16 = i0, a17 = i0, a18 = i0, a19 = i0, a20 = i0, a21 = i0, a22 = i0, a23 = i0, a24 = i0, a25 = i0, a26 = i0, a27 = i0;
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
                    a14 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xc, off + (nuint)(0 * TS.S))), w0, a14);
                    a15 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xc, off + (nuint)(1 * TS.S))), w0, a15);
                    a16 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xc, off + (nuint)(2 * TS.S))), w0, a16);
                    a17 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xc, off + (nuint)(3 * TS.S))), w0, a17);
                    a18 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xc, off + (nuint)(4 * TS.S))), w0, a18);
                    a19 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xc, off + (nuint)(5 * TS.S))), w0, a19);
                    a20 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xc, off + (nuint)(6 * TS.S))), w0, a20);
                    a21 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xd, off + (nuint)(0 * TS.S))), w0, a21);
                    a22 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xd, off + (nuint)(1 * TS.S))), w0, a22);
                    a23 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xd, off + (nuint)(2 * TS.S))), w0, a23);
                    a24 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xd, off + (nuint)(3 * TS.S))), w0, a24);
                    a25 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xd, off + (nuint)(4 * TS.S))), w0, a25);
                    a26 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xd, off + (nuint)(5 * TS.S))), w0, a26);
                    a27 = TL.MultiplyAdd(TL.Broadcast(Unsafe.Add(ref xd, off + (nuint)(6 * TS.S))), w0, a27);
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
            a14 = TL.Max(a14, z);
            a15 = TL.Max(a15, z);
            a16 = TL.Max(a16, z);
            a17 = TL.Max(a17, z);
            a18 = TL.Max(a18, z);
            a19 = TL.Max(a19, z);
            a20 = TL.Max(a20, z);
            a21 = TL.Max(a21, z);
            a22 = TL.Max(a22, z);
            a23 = TL.Max(a23, z);
            a24 = TL.Max(a24, z);
            a25 = TL.Max(a25, z);
            a26 = TL.Max(a26, z);
            a27 = TL.Max(a27, z);
        }
        ref float da = ref Unsafe.Add(ref ps, (t / spr * owp + t % spr * Seg) * oc + o0);
        ref float db = ref Unsafe.Add(ref ps, (u / spr * owp + u % spr * Seg) * oc + o0);
        ref float dc = ref Unsafe.Add(ref ps, (e / spr * owp + e % spr * Seg) * oc + o0);
        ref float dd = ref Unsafe.Add(ref ps, (f / spr * owp + f % spr * Seg) * oc + o0);
        TL.Store(a0, ref da, (nuint)(0 * oc)); TL.Store(a1, ref da, (nuint)(1 * oc)); TL.Store(a2, ref da, (nuint)(2 * oc)); TL.Store(a3, ref da, (nuint)(3 * oc)); TL.Store(a4, ref da, (nuint)(4 * oc)); TL.Store(a5, ref da, (nuint)(5 * oc)); TL.Store(a6, ref da, (nuint)(6 * oc));
        TL.Store(a7, ref db, (nuint)(0 * oc)); TL.Store(a8, ref db, (nuint)(1 * oc)); TL.Store(a9, ref db, (nuint)(2 * oc)); TL.Store(a10, ref db, (nuint)(3 * oc)); TL.Store(a11, ref db, (nuint)(4 * oc)); TL.Store(a12, ref db, (nuint)(5 * oc)); TL.Store(a13, ref db, (nuint)(6 * oc));
        TL.Store(a14, ref dc, (nuint)(0 * oc)); TL.Store(a15, ref dc, (nuint)(1 * oc)); TL.Store(a16, ref dc, (nuint)(2 * oc)); TL.Store(a17, ref dc, (nuint)(3 * oc)); TL.Store(a18, ref dc, (nuint)(4 * oc)); TL.Store(a19, ref dc, (nuint)(5 * oc)); TL.Store(a20, ref dc, (nuint)(6 * oc));
        TL.Store(a21, ref dd, (nuint)(0 * oc)); TL.Store(a22, ref dd, (nuint)(1 * oc)); TL.Store(a23, ref dd, (nuint)(2 * oc)); TL.Store(a24, ref dd, (nuint)(3 * oc)); TL.Store(a25, ref dd, (nuint)(4 * oc)); TL.Store(a26, ref dd, (nuint)(5 * oc)); TL.Store(a27, ref dd, (nuint)(6 * oc));
    }

    // src: (rows, cols) with row stride srcStride -> dst: (cols, rows) with row stride dstStride, dst[j, i] = src[i, j];
    // 8x8 blocks in AVX registers (24 shuffles per 64 values, against a strided scalar load per value), the edges scalar
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose(ref float src, int rows, int cols, int srcStride, ref float dst, int dstStride)
    {
        int i = 0;
        if (Avx.IsSupported)
            for (; i + 8 <= rows; i += 8)
            {
                int j = 0;
                for (; j + 8 <= cols; j += 8)
                {
                    ref float s0 = ref Unsafe.Add(ref src, i * srcStride + j);
                    nuint ss = (nuint)srcStride;
                    var r0 = Vector256.LoadUnsafe(ref s0); var r1 = Vector256.LoadUnsafe(ref s0, ss);
                    var r2 = Vector256.LoadUnsafe(ref s0, 2 * ss); var r3 = Vector256.LoadUnsafe(ref s0, 3 * ss);
                    var r4 = Vector256.LoadUnsafe(ref s0, 4 * ss); var r5 = Vector256.LoadUnsafe(ref s0, 5 * ss);
                    var r6 = Vector256.LoadUnsafe(ref s0, 6 * ss); var r7 = Vector256.LoadUnsafe(ref s0, 7 * ss);
                    var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1); var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
                    var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5); var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
                    var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE); var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
                    var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE); var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
                    ref float d0 = ref Unsafe.Add(ref dst, j * dstStride + i);
                    nuint ds = (nuint)dstStride;
                    Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref d0); Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref d0, ds);
                    Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref d0, 2 * ds); Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref d0, 3 * ds);
                    Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref d0, 4 * ds); Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref d0, 5 * ds);
                    Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref d0, 6 * ds); Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref d0, 7 * ds);
                }
                for (; j < cols; j++)
                    for (int k = i; k < i + 8; k++) Unsafe.Add(ref dst, j * dstStride + k) = Unsafe.Add(ref src, k * srcStride + j);
            }
        for (; i < rows; i++)
            for (int j = 0; j < cols; j++) Unsafe.Add(ref dst, j * dstStride + i) = Unsafe.Add(ref src, i * srcStride + j);
    }

    // stride 1, output rows r0, r0 + 1, columns q0..q0 + 6 x output channels [o0, o0 + V) (a single register of
    // filters) -> scr rows of their pixels. Input-stationary: an input channel's 9 weight registers stay loaded while
    // each of the 4 x 9 input values the tile reads is broadcast once and fed to every output it touches (126
    // multiply-adds for 45 loads, where Tile1 needs one broadcast per multiply-add); 14 accumulators.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TileIS<TL, TV>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, in Layout lay, bool relu, int o0, int r0, int q0)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        int wp = lay.Wp, plane = lay.Plane, owp = lay.OWp;
        ref float px = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(pad), r0 * wp + q0);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(wt), o0);
        TV i0 = b is null ? TL.Zero : TL.Load(ref MemoryMarshal.GetArrayDataReference(b), (nuint)o0);
        TV a00 = i0, a01 = i0, a02 = i0, a03 = i0, a04 = i0, a05 = i0, a06 = i0, a10 = i0, a11 = i0, a12 = i0, a13 = i0, a14 = i0, a15 = i0, a16 = i0;
        TV x;
        nuint step = (nuint)oc;
        for (int ci = 0; ci < c; ci++)
        {
            ref float x0 = ref Unsafe.Add(ref px, ci * plane);
            ref float x1 = ref Unsafe.Add(ref x0, wp);
            ref float x2 = ref Unsafe.Add(ref x0, 2 * wp);
            ref float x3 = ref Unsafe.Add(ref x0, 3 * wp);
            ref float wk = ref Unsafe.Add(ref pw, ci * 9 * oc);
            TV w0 = TL.Load(ref wk, 0), w1 = TL.Load(ref wk, step), w2 = TL.Load(ref wk, 2 * step), w3 = TL.Load(ref wk, 3 * step), w4 = TL.Load(ref wk, 4 * step);
            TV w5 = TL.Load(ref wk, 5 * step), w6 = TL.Load(ref wk, 6 * step), w7 = TL.Load(ref wk, 7 * step), w8 = TL.Load(ref wk, 8 * step);
                x = TL.Broadcast(Unsafe.Add(ref x0, 0)); a00 = TL.MultiplyAdd(x, w0, a00);
                x = TL.Broadcast(Unsafe.Add(ref x0, 1)); a00 = TL.MultiplyAdd(x, w1, a00); a01 = TL.MultiplyAdd(x, w0, a01);
                x = TL.Broadcast(Unsafe.Add(ref x0, 2)); a00 = TL.MultiplyAdd(x, w2, a00); a01 = TL.MultiplyAdd(x, w1, a01); a02 = TL.MultiplyAdd(x, w0, a02);
                x = TL.Broadcast(Unsafe.Add(ref x0, 3)); a01 = TL.MultiplyAdd(x, w2, a01); a02 = TL.MultiplyAdd(x, w1, a02); a03 = TL.MultiplyAdd(x, w0, a03);
                x = TL.Broadcast(Unsafe.Add(ref x0, 4)); a02 = TL.MultiplyAdd(x, w2, a02); a03 = TL.MultiplyAdd(x, w1, a03); a04 = TL.MultiplyAdd(x, w0, a04);
                x = TL.Broadcast(Unsafe.Add(ref x0, 5)); a03 = TL.MultiplyAdd(x, w2, a03); a04 = TL.MultiplyAdd(x, w1, a04); a05 = TL.MultiplyAdd(x, w0, a05);
                x = TL.Broadcast(Unsafe.Add(ref x0, 6)); a04 = TL.MultiplyAdd(x, w2, a04); a05 = TL.MultiplyAdd(x, w1, a05); a06 = TL.MultiplyAdd(x, w0, a06);
                x = TL.Broadcast(Unsafe.Add(ref x0, 7)); a05 = TL.MultiplyAdd(x, w2, a05); a06 = TL.MultiplyAdd(x, w1, a06);
                x = TL.Broadcast(Unsafe.Add(ref x0, 8)); a06 = TL.MultiplyAdd(x, w2, a06);
                x = TL.Broadcast(Unsafe.Add(ref x1, 0)); a00 = TL.MultiplyAdd(x, w3, a00); a10 = TL.MultiplyAdd(x, w0, a10);
                x = TL.Broadcast(Unsafe.Add(ref x1, 1)); a00 = TL.MultiplyAdd(x, w4, a00); a01 = TL.MultiplyAdd(x, w3, a01); a10 = TL.MultiplyAdd(x, w1, a10); a11 = TL.MultiplyAdd(x, w0, a11);
                x = TL.Broadcast(Unsafe.Add(ref x1, 2)); a00 = TL.MultiplyAdd(x, w5, a00); a01 = TL.MultiplyAdd(x, w4, a01); a02 = TL.MultiplyAdd(x, w3, a02); a10 = TL.MultiplyAdd(x, w2, a10); a11 = TL.MultiplyAdd(x, w1, a11); a12 = TL.MultiplyAdd(x, w0, a12);
                x = TL.Broadcast(Unsafe.Add(ref x1, 3)); a01 = TL.MultiplyAdd(x, w5, a01); a02 = TL.MultiplyAdd(x, w4, a02); a03 = TL.MultiplyAdd(x, w3, a03); a11 = TL.MultiplyAdd(x, w2, a11); a12 = TL.MultiplyAdd(x, w1, a12); a13 = TL.MultiplyAdd(x, w0, a13);
                x = TL.Broadcast(Unsafe.Add(ref x1, 4)); a02 = TL.MultiplyAdd(x, w5, a02); a03 = TL.MultiplyAdd(x, w4, a03); a04 = TL.MultiplyAdd(x, w3, a04); a12 = TL.MultiplyAdd(x, w2, a12); a13 = TL.MultiplyAdd(x, w1, a13); a14 = TL.MultiplyAdd(x, w0, a14);
                x = TL.Broadcast(Unsafe.Add(ref x1, 5)); a03 = TL.MultiplyAdd(x, w5, a03); a04 = TL.MultiplyAdd(x, w4, a04); a05 = TL.MultiplyAdd(x, w3, a05); a13 = TL.MultiplyAdd(x, w2, a13); a14 = TL.MultiplyAdd(x, w1, a14); a15 = TL.MultiplyAdd(x, w0, a15);
                x = TL.Broadcast(Unsafe.Add(ref x1, 6)); a04 = TL.MultiplyAdd(x, w5, a04); a05 = TL.MultiplyAdd(x, w4, a05); a06 = TL.MultiplyAdd(x, w3, a06); a14 = TL.MultiplyAdd(x, w2, a14); a15 = TL.MultiplyAdd(x, w1, a15); a16 = TL.MultiplyAdd(x, w0, a16);
                x = TL.Broadcast(Unsafe.Add(ref x1, 7)); a05 = TL.MultiplyAdd(x, w5, a05); a06 = TL.MultiplyAdd(x, w4, a06); a15 = TL.MultiplyAdd(x, w2, a15); a16 = TL.MultiplyAdd(x, w1, a16);
                x = TL.Broadcast(Unsafe.Add(ref x1, 8)); a06 = TL.MultiplyAdd(x, w5, a06); a16 = TL.MultiplyAdd(x, w2, a16);
                x = TL.Broadcast(Unsafe.Add(ref x2, 0)); a00 = TL.MultiplyAdd(x, w6, a00); a10 = TL.MultiplyAdd(x, w3, a10);
                x = TL.Broadcast(Unsafe.Add(ref x2, 1)); a00 = TL.MultiplyAdd(x, w7, a00); a01 = TL.MultiplyAdd(x, w6, a01); a10 = TL.MultiplyAdd(x, w4, a10); a11 = TL.MultiplyAdd(x, w3, a11);
                x = TL.Broadcast(Unsafe.Add(ref x2, 2)); a00 = TL.MultiplyAdd(x, w8, a00); a01 = TL.MultiplyAdd(x, w7, a01); a02 = TL.MultiplyAdd(x, w6, a02); a10 = TL.MultiplyAdd(x, w5, a10); a11 = TL.MultiplyAdd(x, w4, a11); a12 = TL.MultiplyAdd(x, w3, a12);
                x = TL.Broadcast(Unsafe.Add(ref x2, 3)); a01 = TL.MultiplyAdd(x, w8, a01); a02 = TL.MultiplyAdd(x, w7, a02); a03 = TL.MultiplyAdd(x, w6, a03); a11 = TL.MultiplyAdd(x, w5, a11); a12 = TL.MultiplyAdd(x, w4, a12); a13 = TL.MultiplyAdd(x, w3, a13);
                x = TL.Broadcast(Unsafe.Add(ref x2, 4)); a02 = TL.MultiplyAdd(x, w8, a02); a03 = TL.MultiplyAdd(x, w7, a03); a04 = TL.MultiplyAdd(x, w6, a04); a12 = TL.MultiplyAdd(x, w5, a12); a13 = TL.MultiplyAdd(x, w4, a13); a14 = TL.MultiplyAdd(x, w3, a14);
                x = TL.Broadcast(Unsafe.Add(ref x2, 5)); a03 = TL.MultiplyAdd(x, w8, a03); a04 = TL.MultiplyAdd(x, w7, a04); a05 = TL.MultiplyAdd(x, w6, a05); a13 = TL.MultiplyAdd(x, w5, a13); a14 = TL.MultiplyAdd(x, w4, a14); a15 = TL.MultiplyAdd(x, w3, a15);
                x = TL.Broadcast(Unsafe.Add(ref x2, 6)); a04 = TL.MultiplyAdd(x, w8, a04); a05 = TL.MultiplyAdd(x, w7, a05); a06 = TL.MultiplyAdd(x, w6, a06); a14 = TL.MultiplyAdd(x, w5, a14); a15 = TL.MultiplyAdd(x, w4, a15); a16 = TL.MultiplyAdd(x, w3, a16);
                x = TL.Broadcast(Unsafe.Add(ref x2, 7)); a05 = TL.MultiplyAdd(x, w8, a05); a06 = TL.MultiplyAdd(x, w7, a06); a15 = TL.MultiplyAdd(x, w5, a15); a16 = TL.MultiplyAdd(x, w4, a16);
                x = TL.Broadcast(Unsafe.Add(ref x2, 8)); a06 = TL.MultiplyAdd(x, w8, a06); a16 = TL.MultiplyAdd(x, w5, a16);
                x = TL.Broadcast(Unsafe.Add(ref x3, 0)); a10 = TL.MultiplyAdd(x, w6, a10);
                x = TL.Broadcast(Unsafe.Add(ref x3, 1)); a10 = TL.MultiplyAdd(x, w7, a10); a11 = TL.MultiplyAdd(x, w6, a11);
                x = TL.Broadcast(Unsafe.Add(ref x3, 2)); a10 = TL.MultiplyAdd(x, w8, a10); a11 = TL.MultiplyAdd(x, w7, a11); a12 = TL.MultiplyAdd(x, w6, a12);
                x = TL.Broadcast(Unsafe.Add(ref x3, 3)); a11 = TL.MultiplyAdd(x, w8, a11); a12 = TL.MultiplyAdd(x, w7, a12); a13 = TL.MultiplyAdd(x, w6, a13);
                x = TL.Broadcast(Unsafe.Add(ref x3, 4)); a12 = TL.MultiplyAdd(x, w8, a12); a13 = TL.MultiplyAdd(x, w7, a13); a14 = TL.MultiplyAdd(x, w6, a14);
                x = TL.Broadcast(Unsafe.Add(ref x3, 5)); a13 = TL.MultiplyAdd(x, w8, a13); a14 = TL.MultiplyAdd(x, w7, a14); a15 = TL.MultiplyAdd(x, w6, a15);
                x = TL.Broadcast(Unsafe.Add(ref x3, 6)); a14 = TL.MultiplyAdd(x, w8, a14); a15 = TL.MultiplyAdd(x, w7, a15); a16 = TL.MultiplyAdd(x, w6, a16);
                x = TL.Broadcast(Unsafe.Add(ref x3, 7)); a15 = TL.MultiplyAdd(x, w8, a15); a16 = TL.MultiplyAdd(x, w7, a16);
                x = TL.Broadcast(Unsafe.Add(ref x3, 8)); a16 = TL.MultiplyAdd(x, w8, a16);
        }
        if (relu)
        {
            var z = TL.Zero;
            a00 = TL.Max(a00, z);
            a01 = TL.Max(a01, z);
            a02 = TL.Max(a02, z);
            a03 = TL.Max(a03, z);
            a04 = TL.Max(a04, z);
            a05 = TL.Max(a05, z);
            a06 = TL.Max(a06, z);
            a10 = TL.Max(a10, z);
            a11 = TL.Max(a11, z);
            a12 = TL.Max(a12, z);
            a13 = TL.Max(a13, z);
            a14 = TL.Max(a14, z);
            a15 = TL.Max(a15, z);
            a16 = TL.Max(a16, z);
        }
        ref float d0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(scr), (r0 * owp + q0) * oc + o0);
        ref float d1 = ref Unsafe.Add(ref d0, owp * oc);
        TL.Store(a00, ref d0, (nuint)(0 * oc)); TL.Store(a01, ref d0, (nuint)(1 * oc)); TL.Store(a02, ref d0, (nuint)(2 * oc)); TL.Store(a03, ref d0, (nuint)(3 * oc)); TL.Store(a04, ref d0, (nuint)(4 * oc)); TL.Store(a05, ref d0, (nuint)(5 * oc)); TL.Store(a06, ref d0, (nuint)(6 * oc));
        TL.Store(a10, ref d1, (nuint)(0 * oc)); TL.Store(a11, ref d1, (nuint)(1 * oc)); TL.Store(a12, ref d1, (nuint)(2 * oc)); TL.Store(a13, ref d1, (nuint)(3 * oc)); TL.Store(a14, ref d1, (nuint)(4 * oc)); TL.Store(a15, ref d1, (nuint)(5 * oc)); TL.Store(a16, ref d1, (nuint)(6 * oc));
    }
}
