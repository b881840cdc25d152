using System.Numerics;

namespace Sharpgrad.Kernels;

// Per-element and per-row losses and their gradients: binary cross-entropy (on probabilities and on logits), softmax cross-entropy.

internal static class BceKernel
{
    // p, t: (n) -> l: (n), l = -(t max(log p, -100) + (1 - t) max(log(1 - p), -100))
    public static void Forward<T>(ReadOnlySpan<T> p, ReadOnlySpan<T> t, Span<T> l) where T : unmanaged, IFloatingPointIeee754<T>
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

internal static class BceLogitsKernel
{
    // x, t: (n) -> l: (n), l = (1 - t) x + max(-x, 0) + log(1 + exp(-|x|)), PyTorch's arrangement of the stable
    // form (the same value for finite x; at x = +inf it gives +inf for t < 1, where max(x, 0) - x t gave inf - inf)
    public static void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> t, Span<T> l) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < l.Length; i++)
            l[i] = (T.One - t[i]) * x[i] + T.Max(-x[i], T.Zero) + T.LogP1(T.Exp(-T.Abs(x[i])));
    }
}

internal static class CrossEntropyKernel
{
    // logp: (n, c), targets: (n) -> l: (n), l_i = -logp[i, t_i]
    public static void Pick<T>(ReadOnlySpan<T> logp, int[] targets, int c, Span<T> l) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < l.Length; i++) l[i] = -logp[i * c + targets[i]];
    }

    // logp: (n, c), g: (n) -> dx: (n, c), dx = g_i (softmax_i - onehot(t_i))
    public static void Backward<T>(ReadOnlySpan<T> logp, int[] targets, ReadOnlySpan<T> g, int c, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < g.Length; i++)
        {
            var row = dx.Slice(i * c, c);
            for (int j = 0; j < c; j++) row[j] = T.Exp(logp[i * c + j]) * g[i];
            row[targets[i]] -= g[i];
        }
    }
}
