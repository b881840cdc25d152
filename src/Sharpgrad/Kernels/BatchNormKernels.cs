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
            for (int i = 0; i < n; i++)
            {
                var row = x.Slice((i * c + ch) * s, s);
                for (int k = 0; k < s; k++)
                {
                    double d = double.CreateChecked(row[k]) - m;
                    sq += d * d;
                }
            }
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

    // dy, x: (N,C,S) -> dx: (N,C,S)?, dgamma: (C)?, dbeta: (C)?; training uses batch statistics
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, int n, int c, int s, ReadOnlySpan<double> mean, ReadOnlySpan<double> invstd,
        ReadOnlySpan<T> gamma, bool training, Span<T> dx, Span<T> dgamma, Span<T> dbeta, int c0, int c1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double count = (double)n * s;
        for (int ch = c0; ch < c1; ch++)
        {
            double sumDy = 0, sumDyXhat = 0, m = mean[ch], inv = invstd[ch];
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * s;
                for (int k = 0; k < s; k++)
                {
                    double d = double.CreateChecked(dy[o + k]);
                    sumDy += d;
                    sumDyXhat += d * (double.CreateChecked(x[o + k]) - m) * inv;
                }
            }
            if (!dgamma.IsEmpty) dgamma[ch] = T.CreateChecked(sumDyXhat);
            if (!dbeta.IsEmpty) dbeta[ch] = T.CreateChecked(sumDy);
            if (dx.IsEmpty) continue;
            double gm = gamma.IsEmpty ? 1 : double.CreateChecked(gamma[ch]);
            for (int i = 0; i < n; i++)
            {
                int o = (i * c + ch) * s;
                for (int k = 0; k < s; k++)
                {
                    double d = double.CreateChecked(dy[o + k]);
                    if (training)
                    {
                        double xhat = (double.CreateChecked(x[o + k]) - m) * inv;
                        dx[o + k] = T.CreateChecked(gm * inv * (d - sumDy / count - xhat * sumDyXhat / count));
                    }
                    else
                    {
                        dx[o + k] = T.CreateChecked(gm * inv * d);
                    }
                }
            }
        }
    }
}
