namespace Sharpgrad.NN;

/// <summary>Penalties to add to a loss, and gradient clipping.</summary>
public static class Regularization
{
    /// <summary>lambda * sum |w| over <paramref name="parameters"/>: pushes weights to exactly zero (sparse).</summary>
    public static Tensor L1(IEnumerable<Parameter> parameters, double lambda) => Penalty(parameters, lambda, p => p.Data.Abs().Sum(), "L1");

    /// <summary>lambda * sum w^2 over <paramref name="parameters"/>: shrinks weights (small, not zero).</summary>
    public static Tensor L2(IEnumerable<Parameter> parameters, double lambda) => Penalty(parameters, lambda, p => p.Data.Mul(p.Data).Sum(), "L2");

    private static Tensor Penalty(IEnumerable<Parameter> parameters, double lambda, Func<Parameter, Tensor> term, string name)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(lambda >= 0)) throw new ArgumentOutOfRangeException(nameof(lambda), $"{name}: strength must be non-negative, got {lambda}.");
        Tensor? total = null;
        foreach (var p in parameters)
        {
            var t = term(p);
            total = total is null ? t : total.Add(t);
        }
        if (total is null) throw new ArgumentException($"{name}: got an empty parameter list.");
        return total.Mul(lambda);
    }

    /// <summary>
    /// The proximal step of an L1 penalty: w = sign(w) max(|w| - <paramref name="threshold"/>, 0). Applied after an
    /// optimizer step with threshold lr * lambda it is proximal gradient descent on loss + lambda |w|, which, unlike
    /// the L1 subgradient, puts weights exactly at zero.
    /// </summary>
    public static void SoftThreshold(IEnumerable<Parameter> parameters, double threshold)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(threshold >= 0)) throw new ArgumentOutOfRangeException(nameof(threshold), $"SoftThreshold: threshold must be non-negative, got {threshold}.");
        foreach (var p in parameters)
        {
            if (p.Data.DType == DType.Float32) Shrink(p.Data.AsSpan<float>(), (float)threshold);
            else Shrink(p.Data.AsSpan<double>(), threshold);
        }

        static void Shrink<T>(Span<T> w, T t) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            for (int i = 0; i < w.Length; i++)
            {
                T a = T.Abs(w[i]) - t;
                w[i] = a > T.Zero ? T.CopySign(a, w[i]) : T.Zero;
            }
        }
    }

    /// <summary>
    /// Scales all gradients so that their global L2 norm is at most <paramref name="maxNorm"/>, as
    /// torch.nn.utils.clip_grad_norm_ (coefficient maxNorm / (norm + 1e-6)); returns the norm before clipping.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), $"ClipGradNorm: max norm must be positive, got {maxNorm}.");
        var list = parameters.Where(p => p.Grad is not null).ToList();
        double sq = 0;
        foreach (var p in list)
            foreach (var v in p.Grad!.ToDoubleArray()) sq += v * v;
        double norm = Math.Sqrt(sq);
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1)
        {
            using var _ = Tensor.NoGrad();
            foreach (var p in list) p.Grad = p.Grad!.Mul(coef);
        }
        return norm;
    }
}
