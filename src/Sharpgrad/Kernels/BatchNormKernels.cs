using System.Numerics;

namespace Sharpgrad.Kernels;

/// <summary>
/// Batch normalization over (N, C, S): statistics per channel C across N and the S spatial positions. Each kernel
/// handles channels [c0, c1), so callers split channels across threads (exact: channels are independent).
/// </summary>
internal static class BatchNormKernels
{
    // x: (N,C,S) -> mean: (C), var: (C) biased, accumulated in double
    public static void Statistics<T>(ReadOnlySpan<T> x, int n, int c, int s, Span<double> mean, Span<double> var, int c0, int c1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double count = (double)n * s;
        for (int ch = c0; ch < c1; ch++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++)
            {
                var row = x.Slice((i * c + ch) * s, s);
                sum += double.CreateChecked(System.Numerics.Tensors.TensorPrimitives.Sum(row));
            }
            double m = sum / count, sq = 0;
            T mt = T.CreateChecked(m);
            T[] tmp = System.Buffers.ArrayPool<T>.Shared.Rent(s);
            for (int i = 0; i < n; i++)
            {
                // per row in T, vectorized: sum((x - m)^2); rows are added in double
                var d = tmp.AsSpan(0, s);
                System.Numerics.Tensors.TensorPrimitives.Subtract(x.Slice((i * c + ch) * s, s), mt, d);
                sq += double.CreateChecked(System.Numerics.Tensors.TensorPrimitives.SumOfSquares<T>(d));
            }
            System.Buffers.ArrayPool<T>.Shared.Return(tmp);
            mean[ch] = m;
            var[ch] = sq / count;
        }
    }

    // x: (N,C,S), per-channel mean, invstd, gamma?, beta? -> y: (N,C,S) = (x - mean) invstd gamma + beta
    public static void Normalize<T>(ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, Span<T> y, int c0, int c1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int ch = c0; ch < c1; ch++)
        {
            T scale = T.CreateChecked(invstd[ch]) * (gamma.IsEmpty ? T.One : gamma[ch]);
            T shift = (beta.IsEmpty ? T.Zero : beta[ch]) - T.CreateChecked(mean[ch]) * scale;
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * s;
                System.Numerics.Tensors.TensorPrimitives.Multiply(x.Slice(o, s), scale, y.Slice(o, s));
                System.Numerics.Tensors.TensorPrimitives.Add(y.Slice(o, s), shift, y.Slice(o, s));
            }
        }
    }

    // dy, x: (N,C,S) -> dx: (N,C,S)?, dgamma: (C)?, dbeta: (C)?; training uses batch statistics.
    // With xhat = (x - m) invstd: sum(dy xhat) = invstd (sum(dy x) - m sum(dy)), and
    // dx = gamma invstd (dy - sum(dy)/M - xhat sum(dy xhat)/M) = A dy + B x + C per channel (vectorized row passes).
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd,
        ReadOnlySpan<T> gamma, bool training, Span<T> dx, Span<T> dgamma, Span<T> dbeta, int c0, int c1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double count = (double)n * s;
        for (int ch = c0; ch < c1; ch++)
        {
            double sumDy = 0, sumDyX = 0, m = mean[ch], inv = invstd[ch];
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * s;
                sumDy += double.CreateChecked(System.Numerics.Tensors.TensorPrimitives.Sum(dy.Slice(o, s)));
                sumDyX += double.CreateChecked(System.Numerics.Tensors.TensorPrimitives.Dot(dy.Slice(o, s), x.Slice(o, s)));
            }
            double sumDyXhat = inv * (sumDyX - m * sumDy);
            if (!dgamma.IsEmpty) dgamma[ch] = T.CreateChecked(sumDyXhat);
            if (!dbeta.IsEmpty) dbeta[ch] = T.CreateChecked(sumDy);
            if (dx.IsEmpty) continue;
            double gm = gamma.IsEmpty ? 1 : double.CreateChecked(gamma[ch]);
            double a = gm * inv, b = training ? -gm * inv * inv * sumDyXhat / count : 0;
            double cc = training ? -gm * inv * sumDy / count + gm * inv * inv * m * sumDyXhat / count : 0;
            T at = T.CreateChecked(a), bt = T.CreateChecked(b), ct = T.CreateChecked(cc);
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * s;
                var d = dx.Slice(o, s);
                System.Numerics.Tensors.TensorPrimitives.Multiply(dy.Slice(o, s), at, d);
                if (training)
                {
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(x.Slice(o, s), bt, d, d);
                    System.Numerics.Tensors.TensorPrimitives.Add(d, ct, d);
                }
            }
        }
    }
}

/// <summary>The plain per-element batch-norm backward in double, the oracle for <see cref="BatchNormKernels.Backward"/>.</summary>
internal static class BatchNormReference
{
    // dy, x: (N,C,S), mean, invstd, gamma: (C) -> dx: (N,C,S), dgamma: (C), dbeta: (C)
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
