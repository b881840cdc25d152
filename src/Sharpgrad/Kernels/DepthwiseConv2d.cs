using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpgrad.Kernels;

/// <summary>
/// Depthwise convolution (groups = in_channels = out_channels: each channel convolved with its own KH x KW filter),
/// any kernel size, stride and padding, float32 or float64, computed directly per (image, channel) plane and
/// vectorised along the output row. Each plane is first copied into a zero-padded scratch plane whose rows are split
/// into SW phases (phase r holds padded columns r, r + SW, r + 2 SW, ...), so that for every stride the window's
/// taps read contiguous vectors. The input gradient is gathered the same way (each dx vector sums the taps that
/// reach it), so no element is written twice. Forward runs over (image, channel) pairs; the gradients over channels,
/// each channel summing its images in order (the same result for any thread count). 3x3 has unrolled loops with
/// the nine weights in registers. On maps narrower than a 512-bit register, the float32 3x3 forward runs 16 channels
/// at a time instead (<see cref="ForwardChannels"/>, bitwise the same). <see cref="Conv2dReference"/> is the oracle.
/// </summary>
internal static partial class DepthwiseConv2d
{
    /// <summary>Whether this is a depthwise convolution: one input and one output channel per group.</summary>
    public static bool Applies(in Conv2dGeometry g, int outChannels, int groups) => groups == g.C && outChannels == g.C;

    // Scratch layout of one plane for vectors of v lanes:
    // padded x: Hp rows of RS = SW * Pw elements (phase r at [r Pw, (r+1) Pw)), so tap (kh, kw) of output (p, q)
    //   is at row p SH + kh, phase kw % SW, index q + kw / SW;
    // dy: OH rows of Dw elements, dy[p, q] at L0 + q and zeros elsewhere (L0 = (KW-1)/SW zeros before it).
    private readonly record struct Layout(int OWr, int Pw, int RS, int Hp, int L0, int Dw, int OH)
    {
        public static Layout Of(in Conv2dGeometry g, int v)
        {
            int owr = (g.OW + v - 1) / v * v, l0 = (g.KW - 1) / g.SW;
            int pw = Math.Max(owr + l0, (g.W - 1 + g.PW) / g.SW + 1);
            int tmax = (g.PW + g.W + g.SW - 1) / g.SW; // phase indices of real input columns are below this
            return new Layout(owr, pw, g.SW * pw, g.H + 2 * g.PH, l0, l0 + Math.Max(tmax + v, owr), g.OH);
        }

        public int PlaneSize => Hp * RS;

        public int DyPlaneSize => Dw * OH;
    }

    // x: (N,C,H,W), w: (C,1,KH,KW), b: (C)? -> y: (N,C,OH,OW)
    // relu: each plane clamped at 0 as soon as it is computed (while it is in cache)
    public static void Forward<T>(T[] x, T[] w, T[]? b, T[] y, int n, in Conv2dGeometry g, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (Conv2dKernels.Path)
        {
            case Gemm.KernelPath.Vector512: Forward<T, Lanes512<T>, Vector512<T>>(x, w, b, y, n, g, relu); break;
            case Gemm.KernelPath.Vector256: Forward<T, Lanes256<T>, Vector256<T>>(x, w, b, y, n, g, relu); break;
            default: Forward<T, Lanes1<T>, T>(x, w, b, y, n, g, relu); break;
        }
    }

    // dy: (N,C,OH,OW), x: (N,C,H,W), w: (C,1,KH,KW) -> dx: (N,C,H,W)?, dw: (C,1,KH,KW)?, db: (C)?
    public static void Backward<T>(T[] dy, T[] x, T[] w, T[]? dx, T[]? dw, T[]? db, int n, in Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && UsesChannelsBackward(g))
        {
            BackwardChannels((float[])(object)dy, (float[])(object)x, (float[])(object)w, (float[]?)(object?)dx, (float[]?)(object?)dw, (float[]?)(object?)db, n, g);
            return;
        }
        switch (Conv2dKernels.Path)
        {
            case Gemm.KernelPath.Vector512: Backward<T, Lanes512<T>, Vector512<T>>(dy, x, w, dx, dw, db, n, g); break;
            case Gemm.KernelPath.Vector256: Backward<T, Lanes256<T>, Vector256<T>>(dy, x, w, dx, dw, db, n, g); break;
            default: Backward<T, Lanes1<T>, T>(dy, x, w, dx, dw, db, n, g); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward<T, TL, TV>(T[] x, T[] w, T[]? b, T[] y, int n, Conv2dGeometry g, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        if (typeof(T) == typeof(float) && UsesChannels(g))
        {
            ForwardChannels((float[])(object)x, (float[])(object)w, (float[]?)(object?)b, (float[])(object)y, n, g, relu);
            return;
        }
        var lay = Layout.Of(g, TL.Count);
        int c = g.C, k = g.KH * g.KW, xs = g.H * g.W, ys = g.L;
        if (UsesWidePlane(g, TL.Count))
        {
            ForwardWide<T, TL, TV>(x, w, b, y, n, g, relu);
            return;
        }
        Parallelism.ForBalancedMacs(n * c, (_, start, end) =>
        {
            T[] pad = ArrayPool<T>.Shared.Rent(lay.PlaneSize);
            T[] tmp = ArrayPool<T>.Shared.Rent(TL.Count);
            try
            {
                for (int pc = start; pc < end; pc++)
                {
                    int ch = pc % c;
                    PhasePad(x.AsSpan(pc * xs, xs), g, lay, pad, clear: pc == start);
                    var wc = w.AsSpan(ch * k, k);
                    T bias = b is null ? T.Zero : b[ch];
                    var yp = y.AsSpan(pc * ys, ys);
                    if (g.KH == 3 && g.KW == 3) ForwardPlane3x3<T, TL, TV>(pad, wc, bias, yp, g, lay, tmp);
                    else ForwardPlane<T, TL, TV>(pad, wc, bias, yp, g, lay, tmp);
                    if (relu) System.Numerics.Tensors.TensorPrimitives.Max<T>(yp, T.Zero, yp);
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(pad);
                ArrayPool<T>.Shared.Return(tmp);
            }
        }, (long)n * c * ys * k);
    }

    /// <summary>
    /// Whether the 3x3 stride-1 forward runs on whole padded planes (<see cref="ForwardWide"/>) rather than row by row:
    /// where a row fills at most half a register (mobilenet's 7x7 maps: 7 of 16 lanes).
    /// </summary>
    internal static bool UsesWidePlane(in Conv2dGeometry g, int lanes) =>
        g is { KH: 3, KW: 3, SH: 1, SW: 1 } && lanes >= 8 && 2 * g.OW <= lanes;

    // x: (N,C,H,W), w: (C,1,3,3), b: (C)? -> y: (N,C,OH,OW), stride 1, for small maps. Each plane is copied into a
    // zero-padded plane of pitch Wp = W + 2 PW, flattened; the outputs are computed "wide", at q = i Wp + j for every
    // j < Wp (the last Wp - OW of each row are discarded), so that tap (kh, kw) of every output is the contiguous
    // vector at q + kh Wp + kw: OH Wp / lanes registers per plane instead of OH half-empty rows. The nine taps are
    // summed in the same order as ForwardPlane3x3 (bias, then w0..w8 by multiply-add), so the result is bitwise the same.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardWide<T, TL, TV>(T[] x, T[] w, T[]? b, T[] y, int n, Conv2dGeometry g, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        int v = TL.Count, c = g.C, xs = g.H * g.W, ys = g.L, wp = g.W + 2 * g.PW, hp = g.H + 2 * g.PH;
        int vecs = (g.OH * wp + v - 1) / v;
        vecs += vecs & 1; // an even count: WidePlane3x3 computes registers in pairs (an extra one is discarded)
        int padSize = Math.Max(hp * wp, vecs * v + 2 * wp + 2); // the last register's taps read up to 2 Wp + 2 past it
        Parallelism.ForBalancedMacs(n * c, (_, start, end) =>
        {
            T[] pad = ArrayPool<T>.Shared.Rent(padSize);
            T[] wide = ArrayPool<T>.Shared.Rent(vecs * v);
            try
            {
                pad.AsSpan(0, padSize).Clear(); // only the interior is written below: the borders stay zero
                for (int pc = start; pc < end; pc++)
                {
                    int ch = pc % c;
                    // rows of a few elements: element copies (a Span.CopyTo call per row cost more than the plane's sums)
                    CopyRows(x.AsSpan(pc * xs, xs), g.W, pad.AsSpan(g.PH * wp + g.PW, (g.H - 1) * wp + g.W), wp, g.H, g.W, relu: false);
                    WidePlane3x3<T, TL, TV>(pad, w.AsSpan(ch * 9, 9), b is null ? T.Zero : b[ch], wide, vecs, wp);
                    CopyRows(wide.AsSpan(0, (g.OH - 1) * wp + g.OW), wp, y.AsSpan(pc * ys, ys), g.OW, g.OH, g.OW, relu);
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(pad);
                ArrayPool<T>.Shared.Return(wide);
            }
        }, (long)n * c * ys * 9);
    }

    // dst[i ldd + j] = src[i lds + j] (max with 0 when relu) for i < rows, j < cols; the spans hold every element addressed
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyRows<T>(ReadOnlySpan<T> src, int lds, Span<T> dst, int ldd, int rows, int cols, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows == 0 || cols == 0) return;
        if ((long)(rows - 1) * lds + cols > src.Length || (long)(rows - 1) * ldd + cols > dst.Length)
            throw new ArgumentException($"DepthwiseConv2d.CopyRows: {rows} rows of {cols} do not fit (source {src.Length}, destination {dst.Length}).");
        ref T s = ref MemoryMarshal.GetReference(src);
        ref T d = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; i < rows; i++)
        {
            ref T sr = ref Unsafe.Add(ref s, i * lds);
            ref T dr = ref Unsafe.Add(ref d, i * ldd);
            if (relu) for (int j = 0; j < cols; j++) Unsafe.Add(ref dr, j) = T.Max(Unsafe.Add(ref sr, j), T.Zero);
            else for (int j = 0; j < cols; j++) Unsafe.Add(ref dr, j) = Unsafe.Add(ref sr, j);
        }
    }

    // pad: a zero-padded plane of pitch wp, flattened -> wide[q] = bias + sum over the 3x3 taps of w * pad[q + kh wp + kw]
    // for q in [0, vecs lanes), vecs even, two registers at a time (independent chains in flight)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WidePlane3x3<T, TL, TV>(T[] pad, ReadOnlySpan<T> w, T bias, T[] wide, int vecs, int wp)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        ref T px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref T py = ref MemoryMarshal.GetArrayDataReference(wide);
        int v = TL.Count;
        nuint r1 = (nuint)wp, r2 = (nuint)(2 * wp);
        TV w0 = TL.Broadcast(w[0]), w1 = TL.Broadcast(w[1]), w2 = TL.Broadcast(w[2]);
        TV w3 = TL.Broadcast(w[3]), w4 = TL.Broadcast(w[4]), w5 = TL.Broadcast(w[5]);
        TV w6 = TL.Broadcast(w[6]), w7 = TL.Broadcast(w[7]), w8 = TL.Broadcast(w[8]);
        TV b = TL.Broadcast(bias);
        for (int k = 0; k < vecs; k += 2)
        {
            nuint u = (nuint)(k * v), t = u + (nuint)v;
            TV ya = TL.MultiplyAdd(w0, TL.Load(ref px, u), b);
            TV yb = TL.MultiplyAdd(w0, TL.Load(ref px, t), b);
            ya = TL.MultiplyAdd(w1, TL.Load(ref px, u + 1), ya);
            yb = TL.MultiplyAdd(w1, TL.Load(ref px, t + 1), yb);
            ya = TL.MultiplyAdd(w2, TL.Load(ref px, u + 2), ya);
            yb = TL.MultiplyAdd(w2, TL.Load(ref px, t + 2), yb);
            ya = TL.MultiplyAdd(w3, TL.Load(ref px, u + r1), ya);
            yb = TL.MultiplyAdd(w3, TL.Load(ref px, t + r1), yb);
            ya = TL.MultiplyAdd(w4, TL.Load(ref px, u + r1 + 1), ya);
            yb = TL.MultiplyAdd(w4, TL.Load(ref px, t + r1 + 1), yb);
            ya = TL.MultiplyAdd(w5, TL.Load(ref px, u + r1 + 2), ya);
            yb = TL.MultiplyAdd(w5, TL.Load(ref px, t + r1 + 2), yb);
            ya = TL.MultiplyAdd(w6, TL.Load(ref px, u + r2), ya);
            yb = TL.MultiplyAdd(w6, TL.Load(ref px, t + r2), yb);
            ya = TL.MultiplyAdd(w7, TL.Load(ref px, u + r2 + 1), ya);
            yb = TL.MultiplyAdd(w7, TL.Load(ref px, t + r2 + 1), yb);
            ya = TL.MultiplyAdd(w8, TL.Load(ref px, u + r2 + 2), ya);
            yb = TL.MultiplyAdd(w8, TL.Load(ref px, t + r2 + 2), yb);
            TL.Store(ya, ref py, u);
            TL.Store(yb, ref py, t);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Backward<T, TL, TV>(T[] dy, T[] x, T[] w, T[]? dx, T[]? dw, T[]? db, int n, Conv2dGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        var lay = Layout.Of(g, TL.Count);
        int c = g.C, k = g.KH * g.KW, xs = g.H * g.W, ys = g.L;
        Parallelism.For(c, (_, start, end) =>
        {
            T[] pad = ArrayPool<T>.Shared.Rent(lay.PlaneSize);
            T[] dyp = ArrayPool<T>.Shared.Rent(lay.DyPlaneSize);
            T[] tmp = ArrayPool<T>.Shared.Rent(TL.Count + k);
            try
            {
                var acc = tmp.AsSpan(TL.Count, k); // dw of the channel, summed over images in order
                bool first = true, firstX = true; // the scratch planes' zeros are written once (see PhasePad)
                for (int ch = start; ch < end; ch++)
                {
                    acc.Clear();
                    T bsum = T.Zero;
                    var wc = w.AsSpan(ch * k, k);
                    for (int i = 0; i < n; i++)
                    {
                        int pc = i * c + ch;
                        var d = dy.AsSpan(pc * ys, ys);
                        if (db is not null) bsum += System.Numerics.Tensors.TensorPrimitives.Sum<T>(d);
                        if (dw is null && dx is null) continue;
                        PadDy(d, g, lay, dyp, clear: first);
                        first = false;
                        if (dw is not null)
                        {
                            PhasePad(x.AsSpan(pc * xs, xs), g, lay, pad, clear: firstX);
                            firstX = false;
                            if (g.KH == 3 && g.KW == 3) WeightGradientPlane3x3<T, TL, TV>(pad, dyp, acc, g, lay);
                            else WeightGradientPlane<T, TL, TV>(pad, dyp, acc, g, lay);
                        }
                        if (dx is not null)
                        {
                            if (g is { KH: 3, KW: 3, SH: 1, SW: 1 }) InputGradientPlane3x3<T, TL, TV>(dyp, wc, dx.AsSpan(pc * xs, xs), g, lay, tmp);
                            else InputGradientPlane<T, TL, TV>(dyp, wc, dx.AsSpan(pc * xs, xs), g, lay, tmp);
                        }
                    }
                    if (dw is not null) acc.CopyTo(dw.AsSpan(ch * k, k));
                    if (db is not null) db[ch] = bsum;
                }
            }
            finally
            {
                ArrayPool<T>.Shared.Return(pad);
                ArrayPool<T>.Shared.Return(dyp);
                ArrayPool<T>.Shared.Return(tmp);
            }
        }, (long)n * c * ys * k * 2);
    }

    // x: (H,W) -> pad: (Hp, RS) zero-padded, each row split into SW phases
    // The zeros are the same for every plane of a geometry: cleared only when clear is set (the buffer's first plane),
    // later planes overwrite just the same positions.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PhasePad<T>(ReadOnlySpan<T> x, in Conv2dGeometry g, in Layout lay, Span<T> pad, bool clear) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (clear) pad[..lay.PlaneSize].Clear();
        if (g.SW == 2 && typeof(T) == typeof(float) && Avx512F.IsSupported && Conv2dKernels.Path == Gemm.KernelPath.Vector512
            && Deinterleave512(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(pad), g, lay))
            return;
        for (int h = 0; h < g.H; h++)
        {
            var src = x.Slice(h * g.W, g.W);
            var row = pad.Slice((h + g.PH) * lay.RS, lay.RS);
            if (g.SW == 1)
            {
                if (typeof(T) == typeof(float) && row.Length >= g.PW + g.W)
                    MaskedStore.Copy(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(src)), ref Unsafe.As<T, float>(ref row[g.PW]), g.W);
                else src.CopyTo(row[g.PW..]);
            }
            else
            {
                int j = 0;
                if (g.SW == 2 && typeof(T) == typeof(float) && Avx2.IsSupported)
                    j = Deinterleave(MemoryMarshal.Cast<T, float>(src), MemoryMarshal.Cast<T, float>(row), g.PW, lay.Pw);
                // padded column j + PW = r + SW t, stepped without a division per element
                int r = (j + g.PW) % g.SW, at = r * lay.Pw + (j + g.PW) / g.SW;
                for (; j < g.W; j++)
                {
                    row[at] = src[j];
                    if (++r < g.SW) at += lay.Pw;
                    else
                    {
                        r = 0;
                        at -= (g.SW - 1) * lay.Pw - 1;
                    }
                }
            }
        }
    }

    // stride 2, 16 columns a step: src[2t] (padded column 2t + PW) to phase PW % 2 at t + PW / 2, src[2t + 1] to phase
    // (PW + 1) % 2 at t + (PW + 1) / 2 (the scalar loop's positions, eight of each per step); returns the first column
    // not copied. The element-by-element loop made mobilenet's stride-2 depthwise layers copy-bound (3.8 GFLOP/s).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Deinterleave(ReadOnlySpan<float> src, Span<float> row, int pw, int phaseLength)
    {
        int w = src.Length, j = 0;
        int even = pw % 2 * phaseLength + pw / 2, odd = (pw + 1) % 2 * phaseLength + (pw + 1) / 2;
        if (even + (w - 1) / 2 + 1 > row.Length || odd + w / 2 > row.Length) return 0;
        ref float s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(row);
        for (; j + 16 <= w; j += 16)
        {
            var a = Vector256.LoadUnsafe(ref s, (nuint)j);
            var b = Vector256.LoadUnsafe(ref s, (nuint)(j + 8));
            // per 128-bit lane [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit pairs reordered to [a0 a2 a4 a6 b0 b2 b4 b6]
            var ev = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
            var od = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
            ev.StoreUnsafe(ref d, (nuint)(even + j / 2));
            od.StoreUnsafe(ref d, (nuint)(odd + j / 2));
        }
        int rest = w - j;
        if (rest > 0)
        {
            // the last columns (a 14- or 7-wide row is all tail) through masked loads and stores
            var a = MaskedStore.Load256(ref Unsafe.Add(ref s, j), MaskedStore.FirstLanes256<float>(rest));
            var b = rest > 8 ? MaskedStore.Load256(ref Unsafe.Add(ref s, j + 8), MaskedStore.FirstLanes256<float>(rest - 8)) : Vector256<float>.Zero;
            var ev = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();
            var od = Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
            MaskedStore.Store(ev, ref Unsafe.Add(ref d, even + j / 2), (rest + 1) / 2);
            MaskedStore.Store(od, ref Unsafe.Add(ref d, odd + j / 2), rest / 2);
        }
        return w;
    }

    // PhasePad for stride 2 on 512-bit registers, the whole plane in one call: each row 32 columns a step, the last
    // (or only: mobilenet's 28 and 14) step through masked loads and stores whose masks are made once a plane; the same
    // positions as Deinterleave. A call per row cost more than the row's copy on 7- to 14-column rows.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Deinterleave512(ReadOnlySpan<float> x, Span<float> pad, in Conv2dGeometry g, in Layout lay)
    {
        int w = g.W, pw = g.PW, rs = lay.RS, rows = g.H;
        int even = pw % 2 * lay.Pw + pw / 2, odd = (pw + 1) % 2 * lay.Pw + (pw + 1) / 2;
        // the stores of the last row stay inside the padded plane, the loads inside the input plane
        if ((long)(rows - 1 + g.PH) * rs + Math.Max(even + (w + 1) / 2, odd + w / 2) > pad.Length || (long)rows * w > x.Length) return false;
        ref float s = ref MemoryMarshal.GetReference(x);
        ref float d = ref MemoryMarshal.GetReference(pad);
        var evenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var oddLanes = evenLanes + Vector512<int>.One;
        int full = w / 32 * 32, rest = w - full;
        var loadA = MaskedStore.FirstLanes512<float>(rest);
        var loadB = MaskedStore.FirstLanes512<float>(rest - 16);
        var storeEven = MaskedStore.FirstLanes512<float>((rest + 1) / 2);
        var storeOdd = MaskedStore.FirstLanes512<float>(rest / 2);
        for (int h = 0; h < rows; h++)
        {
            ref float sr = ref Unsafe.Add(ref s, h * w);
            ref float dr = ref Unsafe.Add(ref d, (h + g.PH) * rs);
            for (int j = 0; j < full; j += 32)
            {
                var a = Vector512.LoadUnsafe(ref sr, (nuint)j);
                var b = Vector512.LoadUnsafe(ref sr, (nuint)(j + 16));
                Avx512F.PermuteVar16x32x2(a, evenLanes, b).StoreUnsafe(ref dr, (nuint)(even + j / 2));
                Avx512F.PermuteVar16x32x2(a, oddLanes, b).StoreUnsafe(ref dr, (nuint)(odd + j / 2));
            }
            if (rest > 0)
            {
                var a = MaskedStore.Load512(ref Unsafe.Add(ref sr, full), loadA);
                var b = rest > 16 ? MaskedStore.Load512(ref Unsafe.Add(ref sr, full + 16), loadB) : Vector512<float>.Zero;
                MaskedStore.Store512(Avx512F.PermuteVar16x32x2(a, evenLanes, b), ref Unsafe.Add(ref dr, even + full / 2), storeEven);
                MaskedStore.Store512(Avx512F.PermuteVar16x32x2(a, oddLanes, b), ref Unsafe.Add(ref dr, odd + full / 2), storeOdd);
            }
        }
        return true;
    }

    // dy: (OH,OW) -> dyp: (OH, Dw), row p holding dy[p, :] at L0 and zeros around it
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PadDy<T>(ReadOnlySpan<T> dy, in Conv2dGeometry g, in Layout lay, Span<T> dyp, bool clear) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (clear) dyp[..lay.DyPlaneSize].Clear();
        int oh = g.OH, ow = g.OW;
        for (int p = 0; p < oh; p++) dy.Slice(p * ow, ow).CopyTo(dyp[(p * lay.Dw + lay.L0)..]);
    }

    // stores a register's first cols lanes at y[at..]: whole when it fits, else a masked store (y[at + cols - 1] must
    // be within y: checked here, as the masked store is not)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow<T, TL, TV>(TV v, Span<T> y, int at, int cols, Span<T> tmp)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        if (cols >= TL.Count) TL.Store(v, ref MemoryMarshal.GetReference(y), (nuint)at);
        else
        {
            if ((uint)(at + cols) > (uint)y.Length) throw new ArgumentOutOfRangeException(nameof(cols), $"StoreRow: {cols} values at {at} do not fit {y.Length}.");
            TL.StoreMasked(v, ref MemoryMarshal.GetReference(y), (nuint)at, TL.FirstLanes(cols));
        }
    }

    // pad: one padded plane, w: (KH,KW) -> y: (OH,OW) = bias + the window sums
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardPlane<T, TL, TV>(T[] pad, ReadOnlySpan<T> w, T bias, Span<T> y, in Conv2dGeometry g, in Layout lay, Span<T> tmp)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        ref T px = ref MemoryMarshal.GetArrayDataReference(pad);
        int v = TL.Count, oh = g.OH, ow = g.OW;
        for (int p = 0; p < oh; p++)
            for (int j = 0; j < ow; j += v)
            {
                TV acc = TL.Broadcast(bias);
                for (int kh = 0; kh < g.KH; kh++)
                {
                    int row = (p * g.SH + kh) * lay.RS + j;
                    for (int kw = 0; kw < g.KW; kw++)
                        acc = TL.MultiplyAdd(TL.Broadcast(w[kh * g.KW + kw]), TL.Load(ref px, (nuint)(row + kw % g.SW * lay.Pw + kw / g.SW)), acc);
                }
                StoreRow<T, TL, TV>(acc, y, p * ow + j, ow - j, tmp);
            }
    }

    // the same for 3x3, unrolled, the nine weights and three tap offsets in registers
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardPlane3x3<T, TL, TV>(T[] pad, ReadOnlySpan<T> w, T bias, Span<T> y, in Conv2dGeometry g, in Layout lay, Span<T> tmp)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        ref T px = ref MemoryMarshal.GetArrayDataReference(pad);
        int v = TL.Count, rs = lay.RS, sh = g.SH, p = 0, oh = g.OH, ow = g.OW;
        nuint o1 = (nuint)(1 % g.SW * lay.Pw + 1 / g.SW), o2 = (nuint)(2 % g.SW * lay.Pw + 2 / g.SW);
        TV w0 = TL.Broadcast(w[0]), w1 = TL.Broadcast(w[1]), w2 = TL.Broadcast(w[2]);
        TV w3 = TL.Broadcast(w[3]), w4 = TL.Broadcast(w[4]), w5 = TL.Broadcast(w[5]);
        TV w6 = TL.Broadcast(w[6]), w7 = TL.Broadcast(w[7]), w8 = TL.Broadcast(w[8]);
        TV b = TL.Broadcast(bias);
        // four output rows at a time: each output vector is a chain of nine dependent multiply-adds (36 cycles of
        // latency), so one row at a time left the FMA units idle most of the time; four independent chains in flight,
        // each summed in the same order as one row alone (bitwise the same result)
        for (; p + 4 <= oh; p += 4)
        {
            ref T a0 = ref Unsafe.Add(ref px, p * sh * rs);
            ref T a1 = ref Unsafe.Add(ref a0, rs);
            ref T a2 = ref Unsafe.Add(ref a1, rs);
            ref T b0 = ref Unsafe.Add(ref a0, sh * rs);
            ref T b1 = ref Unsafe.Add(ref b0, rs);
            ref T b2 = ref Unsafe.Add(ref b1, rs);
            ref T c0 = ref Unsafe.Add(ref b0, sh * rs);
            ref T c1 = ref Unsafe.Add(ref c0, rs);
            ref T c2 = ref Unsafe.Add(ref c1, rs);
            ref T d0 = ref Unsafe.Add(ref c0, sh * rs);
            ref T d1 = ref Unsafe.Add(ref d0, rs);
            ref T d2 = ref Unsafe.Add(ref d1, rs);
            for (int j = 0; j < ow; j += v)
            {
                nuint u = (nuint)j;
                TV ya = TL.MultiplyAdd(w0, TL.Load(ref a0, u), b);
                ya = TL.MultiplyAdd(w1, TL.Load(ref a0, u + o1), ya);
                ya = TL.MultiplyAdd(w2, TL.Load(ref a0, u + o2), ya);
                ya = TL.MultiplyAdd(w3, TL.Load(ref a1, u), ya);
                ya = TL.MultiplyAdd(w4, TL.Load(ref a1, u + o1), ya);
                ya = TL.MultiplyAdd(w5, TL.Load(ref a1, u + o2), ya);
                ya = TL.MultiplyAdd(w6, TL.Load(ref a2, u), ya);
                ya = TL.MultiplyAdd(w7, TL.Load(ref a2, u + o1), ya);
                ya = TL.MultiplyAdd(w8, TL.Load(ref a2, u + o2), ya);
                TV yb = TL.MultiplyAdd(w0, TL.Load(ref b0, u), b);
                yb = TL.MultiplyAdd(w1, TL.Load(ref b0, u + o1), yb);
                yb = TL.MultiplyAdd(w2, TL.Load(ref b0, u + o2), yb);
                yb = TL.MultiplyAdd(w3, TL.Load(ref b1, u), yb);
                yb = TL.MultiplyAdd(w4, TL.Load(ref b1, u + o1), yb);
                yb = TL.MultiplyAdd(w5, TL.Load(ref b1, u + o2), yb);
                yb = TL.MultiplyAdd(w6, TL.Load(ref b2, u), yb);
                yb = TL.MultiplyAdd(w7, TL.Load(ref b2, u + o1), yb);
                yb = TL.MultiplyAdd(w8, TL.Load(ref b2, u + o2), yb);
                TV yc = TL.MultiplyAdd(w0, TL.Load(ref c0, u), b);
                yc = TL.MultiplyAdd(w1, TL.Load(ref c0, u + o1), yc);
                yc = TL.MultiplyAdd(w2, TL.Load(ref c0, u + o2), yc);
                yc = TL.MultiplyAdd(w3, TL.Load(ref c1, u), yc);
                yc = TL.MultiplyAdd(w4, TL.Load(ref c1, u + o1), yc);
                yc = TL.MultiplyAdd(w5, TL.Load(ref c1, u + o2), yc);
                yc = TL.MultiplyAdd(w6, TL.Load(ref c2, u), yc);
                yc = TL.MultiplyAdd(w7, TL.Load(ref c2, u + o1), yc);
                yc = TL.MultiplyAdd(w8, TL.Load(ref c2, u + o2), yc);
                TV yd = TL.MultiplyAdd(w0, TL.Load(ref d0, u), b);
                yd = TL.MultiplyAdd(w1, TL.Load(ref d0, u + o1), yd);
                yd = TL.MultiplyAdd(w2, TL.Load(ref d0, u + o2), yd);
                yd = TL.MultiplyAdd(w3, TL.Load(ref d1, u), yd);
                yd = TL.MultiplyAdd(w4, TL.Load(ref d1, u + o1), yd);
                yd = TL.MultiplyAdd(w5, TL.Load(ref d1, u + o2), yd);
                yd = TL.MultiplyAdd(w6, TL.Load(ref d2, u), yd);
                yd = TL.MultiplyAdd(w7, TL.Load(ref d2, u + o1), yd);
                yd = TL.MultiplyAdd(w8, TL.Load(ref d2, u + o2), yd);
                StoreRow<T, TL, TV>(ya, y, p * ow + j, ow - j, tmp);
                StoreRow<T, TL, TV>(yb, y, (p + 1) * ow + j, ow - j, tmp);
                StoreRow<T, TL, TV>(yc, y, (p + 2) * ow + j, ow - j, tmp);
                StoreRow<T, TL, TV>(yd, y, (p + 3) * ow + j, ow - j, tmp);
            }
        }
        for (; p < oh; p++)
        {
            ref T a0 = ref Unsafe.Add(ref px, p * sh * rs);
            ref T a1 = ref Unsafe.Add(ref a0, rs);
            ref T a2 = ref Unsafe.Add(ref a1, rs);
            for (int j = 0; j < ow; j += v)
            {
                nuint u = (nuint)j;
                TV ya = TL.MultiplyAdd(w0, TL.Load(ref a0, u), b);
                ya = TL.MultiplyAdd(w1, TL.Load(ref a0, u + o1), ya);
                ya = TL.MultiplyAdd(w2, TL.Load(ref a0, u + o2), ya);
                ya = TL.MultiplyAdd(w3, TL.Load(ref a1, u), ya);
                ya = TL.MultiplyAdd(w4, TL.Load(ref a1, u + o1), ya);
                ya = TL.MultiplyAdd(w5, TL.Load(ref a1, u + o2), ya);
                ya = TL.MultiplyAdd(w6, TL.Load(ref a2, u), ya);
                ya = TL.MultiplyAdd(w7, TL.Load(ref a2, u + o1), ya);
                ya = TL.MultiplyAdd(w8, TL.Load(ref a2, u + o2), ya);
                StoreRow<T, TL, TV>(ya, y, p * ow + j, ow - j, tmp);
            }
        }
    }

    // pad: padded x plane, dyp: padded dy plane -> acc[kh KW + kw] += sum over (p, q) of dy[p, q] x_pad[p SH + kh, q SW + kw]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradientPlane<T, TL, TV>(T[] pad, T[] dyp, Span<T> acc, in Conv2dGeometry g, in Layout lay)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        ref T px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref T pd = ref MemoryMarshal.GetArrayDataReference(dyp);
        int v = TL.Count, oh = g.OH;
        for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                TV a = TL.Zero;
                int off = kw % g.SW * lay.Pw + kw / g.SW;
                for (int p = 0; p < oh; p++)
                {
                    int xr = (p * g.SH + kh) * lay.RS + off, dr = p * lay.Dw + lay.L0;
                    for (int j = 0; j < lay.OWr; j += v) a = TL.MultiplyAdd(TL.Load(ref pd, (nuint)(dr + j)), TL.Load(ref px, (nuint)(xr + j)), a);
                }
                acc[kh * g.KW + kw] += TL.Sum(a);
            }
    }

    // the same for 3x3: nine accumulators, each dy vector loaded once
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradientPlane3x3<T, TL, TV>(T[] pad, T[] dyp, Span<T> acc, in Conv2dGeometry g, in Layout lay)
        where T : unmanaged, IFloatingPointIeee754<T> where TL : struct, ILanes<TV, T> where TV : struct
    {
        ref T px = ref MemoryMarshal.GetArrayDataReference(pad);
        ref T pd = ref MemoryMarshal.GetArrayDataReference(dyp);
        int v = TL.Count, rs = lay.RS, oh = g.OH;
        nuint o1 = (nuint)(1 % g.SW * lay.Pw + 1 / g.SW), o2 = (nuint)(2 % g.SW * lay.Pw + 2 / g.SW);
        TV a0 = TL.Zero, a1 = TL.Zero, a2 = TL.Zero, a3 = TL.Zero, a4 = TL.Zero, a5 = TL.Zero, a6 = TL.Zero, a7 = TL.Zero, a8 = TL.Zero;
        for (int p = 0; p < oh; p++)
        {
            ref T r0 = ref Unsafe.Add(ref px, p * g.SH * rs);
            ref T r1 = ref Unsafe.Add(ref r0, rs);
            ref T r2 = ref Unsafe.Add(ref r1, rs);
            ref T dr = ref Unsafe.Add(ref pd, p * lay.Dw + lay.L0);
            for (int j = 0; j < lay.OWr; j += v)
            {
                nuint u = (nuint)j;
                TV d = TL.Load(ref dr, u);
                a0 = TL.MultiplyAdd(d, TL.Load(ref r0, u), a0);
                a1 = TL.MultiplyAdd(d, TL.Load(ref r0, u + o1), a1);
                a2 = TL.MultiplyAdd(d, TL.Load(ref r0, u + o2), a2);
                a3 = TL.MultiplyAdd(d, TL.Load(ref r1, u), a3);
                a4 = TL.MultiplyAdd(d, TL.Load(ref r1, u + o1), a4);
                a5 = TL.MultiplyAdd(d, TL.Load(ref r1, u + o2), a5);
                a6 = TL.MultiplyAdd(d, TL.Load(ref r2, u), a6);
                a7 = TL.MultiplyAdd(d, TL.Load(ref r2, u + o1), a7);
                a8 = TL.MultiplyAdd(d, TL.Load(ref r2, u + o2), a8);
            }
        }
        acc[0] += TL.Sum(a0); acc[1] += TL.Sum(a1); acc[2] += TL.Sum(a2);
        acc[3] += TL.Sum(a3); acc[4] += TL.Sum(a4); acc[5] += TL.Sum(a5);
        acc[6] += TL.Sum(a6); acc[7] += TL.Sum(a7); acc[8] += TL.Sum(a8);
    }
}
