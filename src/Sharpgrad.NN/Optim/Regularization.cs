using System.Numerics.Tensors;

namespace Sharpgrad.NN;

/// <summary>Penalties to add to a loss, and gradient clipping.</summary>
public static class Regularization
{
    /// <summary>lambda * sum |w| over <paramref name="parameters"/>: pushes weights to exactly zero (sparse).</summary>
    public static Tensor L1(IEnumerable<Parameter> parameters, double lambda) => Penalty(parameters, lambda, p => p.Data.Abs().Sum(), "L1");

    /// <summary>The value of <see cref="L1"/> as a number, without building a graph (for reporting a loss).</summary>
    public static double L1Value(IEnumerable<Parameter> parameters, double lambda)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(lambda >= 0)) throw new ArgumentOutOfRangeException(nameof(lambda), $"L1: strength must be non-negative, got {lambda}.");
        double sum = 0;
        foreach (var p in parameters)
        {
            var w = p.Data.Contiguous();
            sum += w.DType == DType.Float32 ? TensorPrimitives.SumOfMagnitudes(w.AsReadOnlySpan<float>()) : TensorPrimitives.SumOfMagnitudes(w.AsReadOnlySpan<double>());
        }
        return lambda * sum;
    }

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
