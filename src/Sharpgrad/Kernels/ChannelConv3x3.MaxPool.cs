using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

internal static partial class ChannelConv3x3
{
    // x: (N,C,H,W), wt: (C,3,3,OC), b: (OC)? -> y: (N,OC,OH/2,OW/2) = 2x2 max pooling (stride 2, floor) of the
    // convolution, argmax: (N,OC,OH/2,OW/2) the maximum's index in its (OH,OW) plane, as PoolKernels.MaxForward2x2
    // gives them for the stored convolution (window order (r0,c0), (r0,c1), (r1,c0), (r1,c1); a greater value or a NaN
    // takes over, nothing takes over from a NaN). Per image: the tiles fill the pixel-major scratch, the windows are
    // pooled there (16 channels a register, while the scratch is in cache), and only the pooled map and its argmax
    // are transposed to (OC, pixel): the full-size map is never transposed, stored or read back. AVX-512 or AVX2
    // (Conv2dKernels.PoolsInChannelConv3x3).
    public static void ForwardMaxPool(float[] x, float[] wt, float[]? b, float[] y, int[] argmax, int n, int c, int h, int w, int oc, int stride) =>
        Pooled("ForwardMaxPool", x, wt, b, y, argmax, n, c, h, w, oc, stride, null, null);

    // x: (N,C,H,W), wt: (C,3,3,OC), b: (OC)? -> y: (N,OC,OH/2,OW/2) = 2x2 max pooling (stride 2, floor) of
    // max(conv + b, 0), then y * scale[o] + shift[o] when given (a batch norm folded behind the pool): the inference
    // form of ForwardMaxPool, without the argmax. Per image the tiles fill the pixel-major scratch (ReLU as they
    // store), the windows are pooled and mapped there, and only the pooled map is transposed. Images split across
    // threads. AVX-512 or AVX2 (Conv2dKernels.PoolsInChannelConv3x3Relu).
    public static void ForwardReluMaxPool(float[] x, float[] wt, float[]? b, float[] y, int n, int c, int h, int w, int oc, int stride, float[]? scale, float[]? shift)
    {
        if ((scale is null) != (shift is null) || (scale is not null && (scale.Length < oc || shift!.Length < oc)))
            throw new ArgumentException($"ChannelConv3x3.ForwardReluMaxPool: scale and shift must both be given, each of {oc} values, or neither.");
        Pooled("ForwardReluMaxPool", x, wt, b, y, null, n, c, h, w, oc, stride, scale, shift);
    }

    // the two above: with argmax, the training form (no ReLU, the maxima's positions); without, the inference form
    // (ReLU, the optional affine map)
    private static void Pooled(string op, float[] x, float[] wt, float[]? b, float[] y, int[]? argmax, int n, int c, int h, int w, int oc, int stride,
        float[]? scale, float[]? shift)
    {
        bool wide = Conv2dKernels.Path == Gemm.KernelPath.Vector512;
        if (!(wide || Conv2dKernels.Path == Gemm.KernelPath.Vector256) || !Applies(new Conv2dGeometry(c, h, w, 3, 3, stride, stride, 1, 1), oc))
            throw new ArgumentException($"ChannelConv3x3.{op}: needs AVX2 or AVX-512, stride 1 or 2 and output channels a multiple of {Lanes}, got stride {stride} and {oc}.");
        var lay = wide ? Layout.Of(h, w, stride) : Layout.For<Lanes256<float>, Vector256<float>>(h, w, stride);
        int ph = lay.OH / 2, pw = lay.OW / 2, pl = ph * pw;
        if (ph < 1 || pw < 1) throw new ArgumentException($"ChannelConv3x3.{op}: a {lay.OH}x{lay.OW} output is smaller than the 2x2 window.");
        int xs = c * h * w, ys = oc * pl, padSize = c * lay.Plane, scrSize = (lay.OH + 1) * lay.OWp * oc;
        if (y.Length < n * ys || (argmax is not null && argmax.Length < n * ys)) throw new ArgumentException($"ChannelConv3x3.{op}: outputs shorter than {n * ys}.");
        // fewer images than threads (batch-1 latency): each image's tiles split over the threads by pairs of output rows
        long minMacs = wide ? Parallelism.MinParallelMacs : MinParallelMacsAvx2;
        bool split = n < Parallelism.Threads && !PooledRowSplitOff && (long)n * c * 9 * oc * lay.OH * lay.OW >= minMacs && lay.OH >= 4;
        if (split) Images(0, n);
        else Parallelism.ForBalanced(n, (_, start, end) => Images(start, end));

        void Images(int start, int end)
        {
            float[] pad = ArrayPool<float>.Shared.Rent(padSize + Slack), scr = ArrayPool<float>.Shared.Rent(scrSize), pooled = ArrayPool<float>.Shared.Rent(pl * oc);
            int[]? args = argmax is null ? null : ArrayPool<int>.Shared.Rent(pl * oc);
            try
            {
                for (int i = start; i < end; i++)
                {
                    Pad(x.AsSpan(i * xs, xs), c, h, w, lay, pad, clear: i == start);
                    if (wide) PooledImage<Lanes512<float>, Vector512<float>>(pad, wt, b, scr, pooled, args, c, oc, lay, scale, shift, split);
                    else PooledImage<Lanes256<float>, Vector256<float>>(pad, wt, b, scr, pooled, args, c, oc, lay, scale, shift, split);
                    Transpose(ref pooled[0], pl, oc, oc, ref y[i * ys], pl);
                    if (args is not null)
                        Transpose(ref Unsafe.As<int, float>(ref args[0]), pl, oc, oc, ref Unsafe.As<int, float>(ref argmax![i * ys]), pl); // the bits moved as they are
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(scr);
                ArrayPool<float>.Shared.Return(pooled);
                if (args is not null) ArrayPool<int>.Shared.Return(args);
            }
        }
    }

    /// <summary>Whether a batch-1 pooled form runs its image on one thread: the benchmarks' switch, off otherwise.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (Predict at batch 1, alternating windows in one process, least
    // time of each, paired median in brackets): cnn3 1.45x (1.37x) at 1x28x28, 1.48x (1.39x) at 3x32x32; the exam
    // CNN (layers mostly under the split's bound) 0.90x (1.00x) and 1.02x (1.06x)
    internal static bool PooledRowSplitOff;

    // one padded image -> pooled: (OH/2 OW/2, OC), args: the maxima's positions (training) or null (inference: ReLU
    // and the affine map). split: the tiles split over the threads by pairs of output rows (as Forward's batch 1), the
    // scratch then pooled on the calling thread while in cache; the same tiles, so the same values
    private static void PooledImage<TL, TV>(float[] pad, float[] wt, float[]? b, float[] scr, float[] pooled, int[]? args, int c, int oc, Layout lay,
        float[]? scale, float[]? shift, bool split)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        bool relu = args is null;
        if (split) RowPairTiles<TL, TV>(pad, wt, b, scr, c, oc, lay, relu);
        else Tiles<TL, TV>(pad, wt, b, scr, c, oc, lay, relu, 0, oc, 0, lay.OH);
        if (args is null) PoolScratch<TL, TV>(scr, lay, oc, pooled, scale, shift);
        else if (TL.Count == Vector512<float>.Count) PoolScratch(scr, lay, oc, pooled, args);
        else PoolScratch256(scr, lay, oc, pooled, args);
    }

    // Tiles over all channels and rows, split over the threads by pairs of output rows (its own method: the closure is
    // made only where the image splits)
    private static void RowPairTiles<TL, TV>(float[] pad, float[] wt, float[]? b, float[] scr, int c, int oc, Layout lay, bool relu)
        where TL : struct, ILanes<TV, float> where TV : struct =>
        Parallelism.For((lay.OH + 1) / 2, (_, p0, p1) => Tiles<TL, TV>(pad, wt, b, scr, c, oc, lay, relu, 0, oc, 2 * p0, Math.Min(2 * p1, lay.OH)));

    // (any register width) scr: (OH OWp, OC), ReLU's output (a NaN stays NaN, as Math.Max) -> pooled: (OH/2 OW/2, OC), each window's maximum, times scale[o] plus
    // shift[o] when given (a product, then a sum, as the row kernel's pooled store)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolScratch<TL, TV>(float[] scr, in Layout lay, int oc, float[] pooled, float[]? scale, float[]? shift)
        where TL : struct, ILanes<TV, float> where TV : struct
    {
        int ph = lay.OH / 2, pw = lay.OW / 2, owp = lay.OWp, v = TL.Count;
        if (scr.Length < lay.OH * owp * oc || pooled.Length < ph * pw * oc || (scale is not null && (scale.Length < oc || shift is null || shift.Length < oc)))
            throw new ArgumentException("ChannelConv3x3.PoolScratch: buffers smaller than the map.");
        ref float s = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float d = ref MemoryMarshal.GetArrayDataReference(pooled);
        bool affine = scale is not null;
        ref float sc = ref affine ? ref MemoryMarshal.GetArrayDataReference(scale!) : ref d;
        ref float sh = ref affine ? ref MemoryMarshal.GetArrayDataReference(shift!) : ref d;
        for (int i = 0; i < ph; i++)
            for (int j = 0; j < pw; j++)
            {
                nuint p00 = (nuint)((2 * i * owp + 2 * j) * oc), p01 = p00 + (nuint)oc, p10 = p00 + (nuint)(owp * oc), p11 = p10 + (nuint)oc;
                nuint at = (nuint)((i * pw + j) * oc);
                for (int o = 0; o < oc; o += v)
                {
                    nuint u = (nuint)o;
                    var m = TL.Max(TL.Max(TL.Load(ref s, p00 + u), TL.Load(ref s, p01 + u)), TL.Max(TL.Load(ref s, p10 + u), TL.Load(ref s, p11 + u)));
                    if (affine) m = TL.Add(TL.Multiply(m, TL.Load(ref sc, u)), TL.Load(ref sh, u));
                    TL.Store(m, ref d, at + u);
                }
            }
    }

    // scr: (OH OWp, OC) -> pooled: (OH/2 OW/2, OC), args: the same, each window's maximum and its index r OW + q
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolScratch(float[] scr, in Layout lay, int oc, float[] pooled, int[] args)
    {
        int ph = lay.OH / 2, pw = lay.OW / 2, ow = lay.OW, owp = lay.OWp, v = Vector512<float>.Count;
        if (scr.Length < lay.OH * owp * oc || pooled.Length < ph * pw * oc || args.Length < ph * pw * oc)
            throw new ArgumentException("ChannelConv3x3.PoolScratch: buffers smaller than the map.");
        ref float s = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float d = ref MemoryMarshal.GetArrayDataReference(pooled);
        ref int a = ref MemoryMarshal.GetArrayDataReference(args);
        for (int i = 0; i < ph; i++)
            for (int j = 0; j < pw; j++)
            {
                int r0 = 2 * i, c0 = 2 * j, at = (i * pw + j) * oc;
                nuint p00 = (nuint)((r0 * owp + c0) * oc), p01 = p00 + (nuint)oc, p10 = p00 + (nuint)(owp * oc), p11 = p10 + (nuint)oc;
                var i00 = Vector512.Create(r0 * ow + c0);
                var i01 = Vector512.Create(r0 * ow + c0 + 1);
                var i10 = Vector512.Create((r0 + 1) * ow + c0);
                var i11 = Vector512.Create((r0 + 1) * ow + c0 + 1);
                for (int o = 0; o < oc; o += v)
                {
                    nuint u = (nuint)o;
                    var best = Vector512.LoadUnsafe(ref s, p00 + u);
                    var arg = i00;
                    Take(Vector512.LoadUnsafe(ref s, p01 + u), i01, ref best, ref arg);
                    Take(Vector512.LoadUnsafe(ref s, p10 + u), i10, ref best, ref arg);
                    Take(Vector512.LoadUnsafe(ref s, p11 + u), i11, ref best, ref arg);
                    best.StoreUnsafe(ref d, (nuint)(at + o));
                    arg.StoreUnsafe(ref a, (nuint)(at + o));
                }
            }
    }

    // the AVX2 form: scr: (OH OWp, OC) -> pooled: (OH/2 OW/2, OC), args: the same, each window's maximum and its index r OW + q
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolScratch256(float[] scr, in Layout lay, int oc, float[] pooled, int[] args)
    {
        int ph = lay.OH / 2, pw = lay.OW / 2, ow = lay.OW, owp = lay.OWp, v = Vector256<float>.Count;
        if (scr.Length < lay.OH * owp * oc || pooled.Length < ph * pw * oc || args.Length < ph * pw * oc)
            throw new ArgumentException("ChannelConv3x3.PoolScratch: buffers smaller than the map.");
        ref float s = ref MemoryMarshal.GetArrayDataReference(scr);
        ref float d = ref MemoryMarshal.GetArrayDataReference(pooled);
        ref int a = ref MemoryMarshal.GetArrayDataReference(args);
        for (int i = 0; i < ph; i++)
            for (int j = 0; j < pw; j++)
            {
                int r0 = 2 * i, c0 = 2 * j, at = (i * pw + j) * oc;
                nuint p00 = (nuint)((r0 * owp + c0) * oc), p01 = p00 + (nuint)oc, p10 = p00 + (nuint)(owp * oc), p11 = p10 + (nuint)oc;
                var i00 = Vector256.Create(r0 * ow + c0);
                var i01 = Vector256.Create(r0 * ow + c0 + 1);
                var i10 = Vector256.Create((r0 + 1) * ow + c0);
                var i11 = Vector256.Create((r0 + 1) * ow + c0 + 1);
                for (int o = 0; o < oc; o += v)
                {
                    nuint u = (nuint)o;
                    var best = Vector256.LoadUnsafe(ref s, p00 + u);
                    var arg = i00;
                    Take256(Vector256.LoadUnsafe(ref s, p01 + u), i01, ref best, ref arg);
                    Take256(Vector256.LoadUnsafe(ref s, p10 + u), i10, ref best, ref arg);
                    Take256(Vector256.LoadUnsafe(ref s, p11 + u), i11, ref best, ref arg);
                    best.StoreUnsafe(ref d, (nuint)(at + o));
                    arg.StoreUnsafe(ref a, (nuint)(at + o));
                }
            }
    }

    // PoolKernels.Take on 16 lanes: value takes over where it is greater, or NaN while the best so far is not (also
    // SingleChannelConv3x3's window pooling)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Take(Vector512<float> value, Vector512<int> index, ref Vector512<float> best, ref Vector512<int> arg)
    {
        var bestIsNumber = Vector512.Equals(best, best);
        var takes = bestIsNumber & (Vector512.GreaterThan(value, best) | ~Vector512.Equals(value, value));
        best = Vector512.ConditionalSelect(takes, value, best);
        arg = Vector512.ConditionalSelect(takes.AsInt32(), index, arg);
    }

    // PoolKernels.Take on 8 lanes (AVX2): value takes over where it is greater, or NaN while the best so far is not
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Take256(Vector256<float> value, Vector256<int> index, ref Vector256<float> best, ref Vector256<int> arg)
    {
        var bestIsNumber = Vector256.Equals(best, best);
        var takes = bestIsNumber & (Vector256.GreaterThan(value, best) | ~Vector256.Equals(value, value));
        best = Vector256.ConditionalSelect(takes, value, best);
        arg = Vector256.ConditionalSelect(takes.AsInt32(), index, arg);
    }
}
