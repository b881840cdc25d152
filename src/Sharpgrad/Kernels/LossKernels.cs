using System.Numerics;

namespace Sharpgrad.Kernels;

// Per-element and per-row losses and their gradients: binary cross-entropy (on probabilities and on logits), softmax cross-entropy.

// forward p, t: (n) -> l: (n); backward (static) p, t, dl -> dp
internal readonly struct BceKernel : IPairOp
{
    // p, t: (n) -> l: (n), l = -(t max(log p, -100) + (1 - t) max(log(1 - p), -100))
    public void Apply<T>(ReadOnlySpan<T> p, ReadOnlySpan<T> t, Span<T> l) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T floor = T.CreateChecked(-100);
        for (int i = 0; i < l.Length; i++)
        {
            T lp = T.Max(T.Log(p[i]), floor), l1p = T.Max(T.Log(T.One - p[i]), floor);
            l[i] = -(t[i] * lp + (T.One - t[i]) * l1p);
        }
    }

    // p, t, g: (n) -> dp: (n), dp = g (p - t) / max(p (1 - p), 1e-12), as PyTorch's binary_cross_entropy_backward, whose
    // 1e-12 is a float constant: (float)1e-12 = 9.99999996e-13 in float64 too
    public static void Backward<T>(ReadOnlySpan<T> p, ReadOnlySpan<T> t, ReadOnlySpan<T> g, Span<T> dp) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T eps = T.CreateChecked(1e-12f);
        for (int i = 0; i < dp.Length; i++) dp[i] = g[i] * (p[i] - t[i]) / T.Max((T.One - p[i]) * p[i], eps);
    }
}

internal readonly struct BceLogitsKernel : IPairOp
{
    // x, t: (n) -> l: (n), l = (1 - t) x + max(-x, 0) + log(1 + exp(-|x|)), PyTorch's arrangement of the stable
    // form (the same value for finite x; at x = +inf it gives +inf for t < 1, where max(x, 0) - x t gave inf - inf)
    public void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> t, Span<T> l) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < l.Length; i++)
            l[i] = (T.One - t[i]) * x[i] + T.Max(-x[i], T.Zero) + T.LogP1(T.Exp(-T.Abs(x[i])));
    }
}

// the loss of each row (forward) and its gradient (backward) for class indices targets: (n) over c classes
internal readonly struct CrossEntropyKernel(int[] targets, int c, double labelSmoothing) : ISpanKernel, ISpanKernel2
{
    // logp: (n, c) -> l: (n), l_i = -(1 - eps) logp[i, t_i] - eps/c sum_j logp[i, j] (PyTorch's label_smoothing; eps = 0: -logp[i, t_i])
    public void Apply<T>(ReadOnlySpan<T> logp, Span<T> l) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (labelSmoothing == 0)
        {
            for (int i = 0; i < l.Length; i++) l[i] = -logp[i * c + targets[i]];
            return;
        }
        T eps = T.CreateChecked(labelSmoothing), keep = T.One - eps, share = eps / T.CreateChecked(c);
        for (int i = 0; i < l.Length; i++)
        {
            T sum = T.Zero;
            var row = logp.Slice(i * c, c);
            for (int j = 0; j < c; j++) sum += row[j];
            l[i] = -(keep * row[targets[i]]) - share * sum;
        }
    }

    // logp: (n, c), g: (n) -> dx: (n, c), dx = g_i (softmax_i - (1 - eps) onehot(t_i) - eps/c)
    public void Apply<T>(ReadOnlySpan<T> logp, ReadOnlySpan<T> g, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T eps = T.CreateChecked(labelSmoothing), keep = T.One - eps, share = eps / T.CreateChecked(c);
        for (int i = 0; i < g.Length; i++)
        {
            var row = dx.Slice(i * c, c);
            if (labelSmoothing == 0) for (int j = 0; j < c; j++) row[j] = T.Exp(logp[i * c + j]) * g[i];
            else for (int j = 0; j < c; j++) row[j] = (T.Exp(logp[i * c + j]) - share) * g[i];
            row[targets[i]] -= keep * g[i];
        }
    }
}
