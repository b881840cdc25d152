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
    // multiply-add per element
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Normalize<T>(ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, Span<T> y, int c0, int c1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cc = c1 - c0;
        T[] maps = System.Buffers.ArrayPool<T>.Shared.Rent(2 * cc);
        try
        {
            for (int ch = c0; ch < c1; ch++)
            {
                T sc = T.CreateChecked(invstd[ch]) * (gamma.IsEmpty ? T.One : gamma[ch]);
                maps[ch - c0] = sc;
                maps[cc + ch - c0] = (beta.IsEmpty ? T.Zero : beta[ch]) - T.CreateChecked(mean[ch]) * sc;
            }
            for (int i = 0; i < n; i++)
                for (int ch = c0; ch < c1; ch++)
                {
                    int o = (i * c + ch) * s;
                    Affine(x.Slice(o, s), maps[ch - c0], default, T.Zero, maps[cc + ch - c0], y.Slice(o, s));
                }
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(maps);
        }
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

    // sum(dy), sum(dy x) of one row, in one pass
    private static (double Sum, double Dot) SumAndDot<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        T sum = T.Zero, dot = T.Zero;
        if (Vector512.IsHardwareAccelerated && dy.Length >= Vector512<T>.Count)
        {
            Vector512<T> vs = Vector512<T>.Zero, vd = Vector512<T>.Zero;
            if (x.Length < dy.Length) throw new ArgumentException($"BatchNorm SumAndDot: expected {dy.Length} values of x, got {x.Length}.");
            ref T pg = ref MemoryMarshal.GetReference(dy);
            ref T px = ref MemoryMarshal.GetReference(x);
            for (; i + Vector512<T>.Count <= dy.Length; i += Vector512<T>.Count)
            {
                var g = Vector512.LoadUnsafe(ref pg, (nuint)i);
                vs += g;
                vd = Fma(g, Vector512.LoadUnsafe(ref px, (nuint)i), vd);
            }
            sum = Vector512.Sum(vs);
            dot = Vector512.Sum(vd);
        }
        else if (Vector256.IsHardwareAccelerated && dy.Length >= Vector256<T>.Count)
        {
            Vector256<T> vs = Vector256<T>.Zero, vd = Vector256<T>.Zero;
            for (; i + Vector256<T>.Count <= dy.Length; i += Vector256<T>.Count)
            {
                var g = Vector256.Create(dy.Slice(i, Vector256<T>.Count));
                vs += g;
                vd = Fma(g, Vector256.Create(x.Slice(i, Vector256<T>.Count)), vd);
            }
            sum = Vector256.Sum(vs);
            dot = Vector256.Sum(vd);
        }
        for (; i < dy.Length; i++)
        {
            sum += dy[i];
            dot += dy[i] * x[i];
        }
        return (double.CreateChecked(sum), double.CreateChecked(dot));
    }

    // dy, x: (N,C,S) -> dx: (N,C,S)?, dgamma: (C)?, dbeta: (C)?; training uses batch statistics.
    // With xhat = (x - m) invstd: sum(dy xhat) = invstd (sum(dy x) - m sum(dy)), and
    // dx = gamma invstd (dy - sum(dy)/M - xhat sum(dy xhat)/M) = A dy + B x + C per channel: one pass for the two
    // sums, one for dx. Both passes (and those of Statistics and Normalize) visit the planes image by image: the
    // channels [c0, c1) of one image are contiguous, where a channel's planes lie C planes apart and the prefetcher
    // did not follow them (mobilenet's training step 1.06-1.07x, the others 0.96-1.04x, in-process A/B); each
    // channel's sums are still added over the images in order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd,
        ReadOnlySpan<T> gamma, bool training, Span<T> dx, Span<T> dgamma, Span<T> dbeta, int c0, int c1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double count = (double)n * s;
        int cc = c1 - c0;
        double[] acc = System.Buffers.ArrayPool<double>.Shared.Rent(2 * cc);
        T[] maps = System.Buffers.ArrayPool<T>.Shared.Rent(3 * cc);
        try
        {
            var sumDy = acc.AsSpan(0, cc);
            var sumDyX = acc.AsSpan(cc, cc);
            sumDy.Clear();
            sumDyX.Clear();
            for (int i = 0; i < n; i++)
                for (int ch = c0; ch < c1; ch++)
                {
                    int o = (i * c + ch) * s;
                    var (rs, rd) = SumAndDot(dy.Slice(o, s), x.Slice(o, s));
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
                    int o = (i * c + ch) * s;
                    Affine(dy.Slice(o, s), maps[ch - c0], training ? x.Slice(o, s) : default, maps[cc + ch - c0], maps[2 * cc + ch - c0], dx.Slice(o, s));
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
    // dy, x: (N,C,S), mean, invstd, gamma: (C) -> dx: (N,C,S), dgamma: (C), dbeta: (C)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(double[] dy, double[] x, int n, int c, int s, double[] mean, double[] invstd, double[] gamma, bool training,
        double[] dx, double[] dgamma, double[] dbeta)
    {
        double count = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double sumDy = 0, sumDyXhat = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + ch) * s + k;
                    sumDy += dy[o];
                    sumDyXhat += dy[o] * (x[o] - mean[ch]) * invstd[ch];
                }
            dgamma[ch] = sumDyXhat;
            dbeta[ch] = sumDy;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int o = (i * c + ch) * s + k;
                    double xhat = (x[o] - mean[ch]) * invstd[ch];
                    dx[o] = gamma[ch] * invstd[ch] * (training ? dy[o] - sumDy / count - xhat * sumDyXhat / count : dy[o]);
                }
        }
    }
}
