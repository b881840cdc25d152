using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>
/// Batch normalization over (N, C, S): statistics per channel C across N and the S spatial positions. Each kernel
/// handles channels [c0, c1), so callers split channels across threads (exact: channels are independent), and
/// visits their planes image by image.
/// </summary>
internal static class BatchNormKernels
{
    /// <summary>Elements whose shifted sums are accumulated in T before they are added in double (at most 256 additions per lane).</summary>
    private const int Chunk = 4096;

    // x: (N,C,S) -> mean: (C), var: (C) biased. One pass: per row, sum(x - k) and sum((x - k)^2) in T around k, the
    // mean of the channel's first row (the shift keeps the variance accurate when |mean| >> std), in chunks of
    // Chunk elements added in double, so the error does not grow with the spatial size.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Statistics<T>(ReadOnlySpan<T> x, int n, int c, int s, Span<double> mean, Span<double> var, int c0, int c1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double count = (double)n * s;
        int cc = c1 - c0;
        double[] acc = System.Buffers.ArrayPool<double>.Shared.Rent(2 * cc);
        T[] shifts = System.Buffers.ArrayPool<T>.Shared.Rent(cc);
        try
        {
            var sums = acc.AsSpan(0, cc);
            var squares = acc.AsSpan(cc, cc);
            sums.Clear();
            squares.Clear();
            for (int ch = c0; ch < c1; ch++) shifts[ch - c0] = Summation.Sum(x.Slice(ch * s, s)) / T.CreateChecked(s);
            for (int i = 0; i < n; i++)
                for (int ch = c0; ch < c1; ch++)
                {
                    var row = x.Slice((i * c + ch) * s, s);
                    for (int o = 0; o < s; o += Chunk)
                    {
                        var (rs, rq) = ShiftedSums(row.Slice(o, Math.Min(Chunk, s - o)), shifts[ch - c0]);
                        sums[ch - c0] += rs;
                        squares[ch - c0] += rq;
                    }
                }
            for (int ch = c0; ch < c1; ch++)
            {
                double d = sums[ch - c0] / count;
                mean[ch] = double.CreateChecked(shifts[ch - c0]) + d;
                var[ch] = Math.Max(0, squares[ch - c0] / count - d * d);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<double>.Shared.Return(acc);
            System.Buffers.ArrayPool<T>.Shared.Return(shifts);
        }
    }

    // a b + c, fused, for float or double lanes
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c) where T : unmanaged =>
        typeof(T) == typeof(float)
            ? Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
            : Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged =>
        typeof(T) == typeof(float)
            ? Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
            : Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();

    // sum(x - k), sum((x - k)^2) of one row
    private static (double Sum, double Squares) ShiftedSums<T>(ReadOnlySpan<T> x, T k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        T sum = T.Zero, sq = T.Zero;
        if (Vector512.IsHardwareAccelerated && x.Length >= Vector512<T>.Count)
        {
            var kv = Vector512.Create(k);
            Vector512<T> vs = Vector512<T>.Zero, vq = Vector512<T>.Zero;
            ref T px = ref MemoryMarshal.GetReference(x);
            for (; i + Vector512<T>.Count <= x.Length; i += Vector512<T>.Count)
            {
                var d = Vector512.LoadUnsafe(ref px, (nuint)i) - kv;
                vs += d;
                vq = Fma(d, d, vq);
            }
            sum = Vector512.Sum(vs);
            sq = Vector512.Sum(vq);
        }
        else if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<T>.Count)
        {
            var kv = Vector256.Create(k);
            Vector256<T> vs = Vector256<T>.Zero, vq = Vector256<T>.Zero;
            for (; i + Vector256<T>.Count <= x.Length; i += Vector256<T>.Count)
            {
                var d = Vector256.Create(x.Slice(i, Vector256<T>.Count)) - kv;
                vs += d;
                vq = Fma(d, d, vq);
            }
            sum = Vector256.Sum(vs);
            sq = Vector256.Sum(vq);
        }
        for (; i < x.Length; i++)
        {
            T d = x[i] - k;
            sum += d;
            sq += d * d;
        }
        return (double.CreateChecked(sum), double.CreateChecked(sq));
    }

    // x: (N,C,S), per-channel mean, invstd, gamma?, beta? -> y: (N,C,S) = (x - mean) invstd gamma + beta, one
    // multiply-add per element; with relu, max(that, 0) as it is stored (bitwise Normalize then ReLU's
    // TensorPrimitives.Max(y, 0): the IEEE maximum, NaN kept and -0 -> +0, as Vector512.Max)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize<T>(ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, Span<T> y, int c0, int c1, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cc = c1 - c0;
        T[] maps = System.Buffers.ArrayPool<T>.Shared.Rent(2 * cc);
        try
        {
            for (int ch = c0; ch < c1; ch++)
                (maps[ch - c0], maps[cc + ch - c0]) = ChannelMap(ch, mean, invstd, gamma, beta);
            for (int i = 0; i < n; i++)
                for (int ch = c0; ch < c1; ch++)
                {
                    int o = (i * c + ch) * s;
                    if (relu) AffineRelu(x.Slice(o, s), maps[ch - c0], maps[cc + ch - c0], y.Slice(o, s));
                    else Affine(x.Slice(o, s), maps[ch - c0], default, T.Zero, maps[cc + ch - c0], y.Slice(o, s));
                }
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(maps);
        }
    }

    // channel ch's normalization as one multiply-add y = x sc + sh: sc = invstd gamma, sh = beta - mean sc, rounded
    // to T (the forward and the ReLU gate of the fused backward compute it alike, so they agree bit for bit)
    private static (T Scale, T Shift) ChannelMap<T>(int ch, ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T sc = T.CreateChecked(invstd[ch]) * (gamma.IsEmpty ? T.One : gamma[ch]);
        return (sc, (beta.IsEmpty ? T.Zero : beta[ch]) - T.CreateChecked(mean[ch]) * sc);
    }

    // y = max(a u + k, 0), vectorized with a scalar tail
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AffineRelu<T>(ReadOnlySpan<T> u, T a, T k, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, len = u.Length;
        if (y.Length < len) throw new ArgumentException($"BatchNorm AffineRelu: expected {len} values in y, got {y.Length}.");
        ref T pu = ref MemoryMarshal.GetReference(u);
        ref T py = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated && len >= Vector512<T>.Count)
        {
            var av = Vector512.Create(a);
            var kv = Vector512.Create(k);
            for (int last = len - Vector512<T>.Count; i <= last; i += Vector512<T>.Count)
                Vector512.Max(Fma(Vector512.LoadUnsafe(ref pu, (nuint)i), av, kv), Vector512<T>.Zero).StoreUnsafe(ref py, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated && len >= Vector256<T>.Count)
        {
            var av = Vector256.Create(a);
            var kv = Vector256.Create(k);
            for (int last = len - Vector256<T>.Count; i <= last; i += Vector256<T>.Count)
                Vector256.Max(Fma(Vector256.LoadUnsafe(ref pu, (nuint)i), av, kv), Vector256<T>.Zero).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < len; i++)
            Unsafe.Add(ref py, i) = T.Max(T.FusedMultiplyAdd(Unsafe.Add(ref pu, i), a, k), T.Zero);
    }

    // y = a u + b v + k (v may be empty: y = a u + k), vectorized with a scalar tail
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Affine<T>(ReadOnlySpan<T> u, T a, ReadOnlySpan<T> v, T b, T k, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // one plane a call (49 values on a 7x7 map): bounds checked once here, then unchecked loads and stores (slices
        // a vector checked each vector, which cost more than the multiply-add on such planes)
        int i = 0, len = u.Length;
        bool two = !v.IsEmpty;
        if (y.Length < len || (two && v.Length < len)) throw new ArgumentException($"BatchNorm Affine: expected {len} values in y and v, got {y.Length} and {v.Length}.");
        ref T pu = ref MemoryMarshal.GetReference(u);
        ref T pv = ref MemoryMarshal.GetReference(v);
        ref T py = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated && len >= Vector512<T>.Count)
        {
            var av = Vector512.Create(a);
            var bv = Vector512.Create(b);
            var kv = Vector512.Create(k);
            int last = len - Vector512<T>.Count;
            if (two)
                for (; i <= last; i += Vector512<T>.Count)
                    Fma(Vector512.LoadUnsafe(ref pu, (nuint)i), av, Fma(Vector512.LoadUnsafe(ref pv, (nuint)i), bv, kv)).StoreUnsafe(ref py, (nuint)i);
            else
                for (; i <= last; i += Vector512<T>.Count)
                    Fma(Vector512.LoadUnsafe(ref pu, (nuint)i), av, kv).StoreUnsafe(ref py, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated && len >= Vector256<T>.Count)
        {
            var av = Vector256.Create(a);
            var bv = Vector256.Create(b);
            var kv = Vector256.Create(k);
            int last = len - Vector256<T>.Count;
            if (two)
                for (; i <= last; i += Vector256<T>.Count)
                    Fma(Vector256.LoadUnsafe(ref pu, (nuint)i), av, Fma(Vector256.LoadUnsafe(ref pv, (nuint)i), bv, kv)).StoreUnsafe(ref py, (nuint)i);
            else
                for (; i <= last; i += Vector256<T>.Count)
                    Fma(Vector256.LoadUnsafe(ref pu, (nuint)i), av, kv).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < len; i++)
            Unsafe.Add(ref py, i) = T.FusedMultiplyAdd(Unsafe.Add(ref pu, i), a, two ? T.FusedMultiplyAdd(Unsafe.Add(ref pv, i), b, k) : k);
    }

    // sum(g), sum(g x) of one row, in one pass: g = dy, or with relu the gradient through max(a x + k, 0), dy where
    // a x + k > 0 (dy at NaN) and 0 elsewhere, as ReLU's backward (ReluGradKernel) on the forward's output
    private static (double Sum, double Dot) SumAndDot<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, bool relu, T a, T k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        T sum = T.Zero, dot = T.Zero;
        if (x.Length < dy.Length) throw new ArgumentException($"BatchNorm SumAndDot: expected {dy.Length} values of x, got {x.Length}.");
        ref T pg = ref MemoryMarshal.GetReference(dy);
        ref T px = ref MemoryMarshal.GetReference(x);
        if (Vector512.IsHardwareAccelerated && dy.Length >= Vector512<T>.Count)
        {
            Vector512<T> vs = Vector512<T>.Zero, vd = Vector512<T>.Zero;
            var av = Vector512.Create(a);
            var kv = Vector512.Create(k);
            for (; i + Vector512<T>.Count <= dy.Length; i += Vector512<T>.Count)
            {
                var g = Vector512.LoadUnsafe(ref pg, (nuint)i);
                var xv = Vector512.LoadUnsafe(ref px, (nuint)i);
                if (relu) g = Vector512.ConditionalSelect(Vector512.LessThanOrEqual(Fma(xv, av, kv), Vector512<T>.Zero), Vector512<T>.Zero, g);
                vs += g;
                vd = Fma(g, xv, vd);
            }
            sum = Vector512.Sum(vs);
            dot = Vector512.Sum(vd);
        }
        else if (Vector256.IsHardwareAccelerated && dy.Length >= Vector256<T>.Count)
        {
            Vector256<T> vs = Vector256<T>.Zero, vd = Vector256<T>.Zero;
            var av = Vector256.Create(a);
            var kv = Vector256.Create(k);
            for (; i + Vector256<T>.Count <= dy.Length; i += Vector256<T>.Count)
            {
                var g = Vector256.LoadUnsafe(ref pg, (nuint)i);
                var xv = Vector256.LoadUnsafe(ref px, (nuint)i);
                if (relu) g = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(Fma(xv, av, kv), Vector256<T>.Zero), Vector256<T>.Zero, g);
                vs += g;
                vd = Fma(g, xv, vd);
            }
            sum = Vector256.Sum(vs);
            dot = Vector256.Sum(vd);
        }
        for (; i < dy.Length; i++)
        {
            T g = Unsafe.Add(ref pg, i), xi = Unsafe.Add(ref px, i);
            if (relu && T.FusedMultiplyAdd(xi, a, k) <= T.Zero) g = T.Zero;
            sum += g;
            dot += g * xi;
        }
        return (double.CreateChecked(sum), double.CreateChecked(dot));
    }

    // dx = p g + q x + r (training) or p g + r (evaluation: no x term, as Affine without v), g = dy gated by
    // max(a x + k, 0) as in SumAndDot; vectorized with a scalar tail
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GatedAffine<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, T a, T k, T p, T q, T r, bool training, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, len = dy.Length;
        if (x.Length < len || dx.Length < len) throw new ArgumentException($"BatchNorm GatedAffine: expected {len} values in x and dx, got {x.Length} and {dx.Length}.");
        ref T pg = ref MemoryMarshal.GetReference(dy);
        ref T px = ref MemoryMarshal.GetReference(x);
        ref T pd = ref MemoryMarshal.GetReference(dx);
        if (Vector512.IsHardwareAccelerated && len >= Vector512<T>.Count)
        {
            var av = Vector512.Create(a);
            var kv = Vector512.Create(k);
            var pv = Vector512.Create(p);
            var qv = Vector512.Create(q);
            var rv = Vector512.Create(r);
            for (int last = len - Vector512<T>.Count; i <= last; i += Vector512<T>.Count)
            {
                var xv = Vector512.LoadUnsafe(ref px, (nuint)i);
                var g = Vector512.ConditionalSelect(Vector512.LessThanOrEqual(Fma(xv, av, kv), Vector512<T>.Zero), Vector512<T>.Zero, Vector512.LoadUnsafe(ref pg, (nuint)i));
                Fma(g, pv, training ? Fma(xv, qv, rv) : rv).StoreUnsafe(ref pd, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated && len >= Vector256<T>.Count)
        {
            var av = Vector256.Create(a);
            var kv = Vector256.Create(k);
            var pv = Vector256.Create(p);
            var qv = Vector256.Create(q);
            var rv = Vector256.Create(r);
            for (int last = len - Vector256<T>.Count; i <= last; i += Vector256<T>.Count)
            {
                var xv = Vector256.LoadUnsafe(ref px, (nuint)i);
                var g = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(Fma(xv, av, kv), Vector256<T>.Zero), Vector256<T>.Zero, Vector256.LoadUnsafe(ref pg, (nuint)i));
                Fma(g, pv, training ? Fma(xv, qv, rv) : rv).StoreUnsafe(ref pd, (nuint)i);
            }
        }
        for (; i < len; i++)
        {
            T xi = Unsafe.Add(ref px, i);
            T g = T.FusedMultiplyAdd(xi, a, k) <= T.Zero ? T.Zero : Unsafe.Add(ref pg, i);
            Unsafe.Add(ref pd, i) = T.FusedMultiplyAdd(g, p, training ? T.FusedMultiplyAdd(xi, q, r) : r);
        }
    }

    // dy, x: (N,C,S) -> dx: (N,C,S)?, dgamma: (C)?, dbeta: (C)?; training uses batch statistics.
    // With xhat = (x - m) invstd: sum(dy xhat) = invstd (sum(dy x) - m sum(dy)), and
    // dx = gamma invstd (dy - sum(dy)/M - xhat sum(dy xhat)/M) = A dy + B x + C per channel: one pass for the two
    // sums, one for dx. Both passes (and those of Statistics and Normalize) visit the planes image by image: the
    // channels [c0, c1) of one image are contiguous, where a channel's planes lie C planes apart and the prefetcher
    // did not follow them (mobilenet's training step 1.06-1.07x, the others 0.96-1.04x, in-process A/B); each
    // channel's sums are still added over the images in order.
    // With relu (the fused BatchNorm + ReLU), dy is the gradient of max(y, 0) and each pass gates it where
    // y = x sc + sh <= 0, y recomputed from x with the forward's map (ChannelMap, so bitwise the forward's y): the
    // passes read dy and x only, where ReLU's backward then this one read dy and y, then dy and x twice, and
    // write a gradient in between. beta is read only for the gate.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd,
        ReadOnlySpan<T> gamma, bool training, Span<T> dx, Span<T> dgamma, Span<T> dbeta, int c0, int c1,
        bool relu = false, ReadOnlySpan<T> beta = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double count = (double)n * s;
        int cc = c1 - c0;
        double[] acc = System.Buffers.ArrayPool<double>.Shared.Rent(2 * cc);
        T[] maps = System.Buffers.ArrayPool<T>.Shared.Rent(5 * cc);
        try
        {
            var sumDy = acc.AsSpan(0, cc);
            var sumDyX = acc.AsSpan(cc, cc);
            sumDy.Clear();
            sumDyX.Clear();
            for (int ch = c0; ch < c1; ch++)
                (maps[3 * cc + ch - c0], maps[4 * cc + ch - c0]) = relu ? ChannelMap(ch, mean, invstd, gamma, beta) : (T.Zero, T.Zero);
            for (int i = 0; i < n; i++)
                for (int ch = c0; ch < c1; ch++)
                {
                    int o = (i * c + ch) * s;
                    var (rs, rd) = SumAndDot(dy.Slice(o, s), x.Slice(o, s), relu, maps[3 * cc + ch - c0], maps[4 * cc + ch - c0]);
                    sumDy[ch - c0] += rs;
                    sumDyX[ch - c0] += rd;
                }
            for (int ch = c0; ch < c1; ch++)
            {
                double m = mean[ch], inv = invstd[ch], sd = sumDy[ch - c0];
                double sumDyXhat = inv * (sumDyX[ch - c0] - m * sd);
                if (!dgamma.IsEmpty) dgamma[ch] = T.CreateChecked(sumDyXhat);
                if (!dbeta.IsEmpty) dbeta[ch] = T.CreateChecked(sd);
                double gm = gamma.IsEmpty ? 1 : double.CreateChecked(gamma[ch]);
                double a = gm * inv, b = training ? -gm * inv * inv * sumDyXhat / count : 0;
                double k = training ? -gm * inv * sd / count + gm * inv * inv * m * sumDyXhat / count : 0;
                maps[ch - c0] = T.CreateChecked(a);
                maps[cc + ch - c0] = T.CreateChecked(b);
                maps[2 * cc + ch - c0] = T.CreateChecked(k);
            }
            if (dx.IsEmpty) return;
            for (int i = 0; i < n; i++)
                for (int ch = c0; ch < c1; ch++)
                {
                    int o = (i * c + ch) * s, j = ch - c0;
                    if (relu) GatedAffine(dy.Slice(o, s), x.Slice(o, s), maps[3 * cc + j], maps[4 * cc + j], maps[j], maps[cc + j], maps[2 * cc + j], training, dx.Slice(o, s));
                    else Affine(dy.Slice(o, s), maps[j], training ? x.Slice(o, s) : default, maps[cc + j], maps[2 * cc + j], dx.Slice(o, s));
                }
        }
        finally
        {
            System.Buffers.ArrayPool<double>.Shared.Return(acc);
            System.Buffers.ArrayPool<T>.Shared.Return(maps);
        }
    }
}

/// <summary>The plain per-element batch-norm backward in double, the oracle for <see cref="BatchNormKernels.Backward"/>.</summary>
internal static class BatchNormReference
{
    // dy, x: (N,C,S), mean, invstd, gamma: (C) -> dx: (N,C,S), dgamma: (C), dbeta: (C); with beta (C) given, dy is the
    // gradient of max(y, 0) with y = (x - mean) invstd gamma + beta, first zeroed where y <= 0
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(double[] dy, double[] x, int n, int c, int s, double[] mean, double[] invstd, double[] gamma, bool training,
        double[] dx, double[] dgamma, double[] dbeta, double[]? reluBeta = null)
    {
        double count = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double G(int o) => reluBeta is not null && (x[o] - mean[ch]) * invstd[ch] * gamma[ch] + reluBeta[ch] <= 0 ? 0 : dy[o];
            double sumDy = 0, sumDyXhat = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + ch) * s + k;
                    sumDy += G(o);
                    sumDyXhat += G(o) * (x[o] - mean[ch]) * invstd[ch];
                }
            dgamma[ch] = sumDyXhat;
            dbeta[ch] = sumDy;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + ch) * s + k;
                    double xhat = (x[o] - mean[ch]) * invstd[ch];
                    dx[o] = gamma[ch] * invstd[ch] * (training ? G(o) - sumDy / count - xhat * sumDyXhat / count : G(o));
                }
        }
    }
}
