using Sharpgrad.Kernels;

namespace Sharpgrad;

public static partial class Losses
{
    /// <summary>
    /// Binary cross-entropy on probabilities: -(t log p + (1 - t) log(1 - p)), with each log clamped at -100 as
    /// PyTorch does. p must lie in [0, 1]. Differentiable with respect to <paramref name="input"/> only.
    /// </summary>
    public static Tensor BinaryCrossEntropy(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        CheckSameShape("BinaryCrossEntropy", input, target);
        var p = input.ToDoubleArray();
        for (int i = 0; i < p.Length; i++)
            if (!(p[i] >= 0 && p[i] <= 1))
                throw new ArgumentException($"BinaryCrossEntropy: input values must be probabilities in [0, 1], got {p[i]} at flat index {i}; use BinaryCrossEntropyWithLogits for raw scores.");
        var y = Elementwise.Map(input, target, default(BceKernel));
        if (Tensor.NeedsGrad(input)) y.SetGradFn(new BinaryCrossEntropyBackward(input, target));
        return Reduce(y, reduction);
    }
}

// l = bce(p, t) element-wise: dp = dl (p - t) / max(p (1 - p), 1e-12); no gradient for t
internal sealed class BinaryCrossEntropyBackward(Tensor p, Tensor t) : Node([p, null], p, t)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var p = Saved(0).ContiguousRaw();
        var t = Saved(1).ContiguousRaw();
        var gc = g.ContiguousRaw();
        var dp = Tensor.EmptyLike(p);
        if (p.DType == DType.Float32) BceKernel.Backward(p.Span<float>(), t.Span<float>(), gc.Span<float>(), dp.Span<float>());
        else BceKernel.Backward(p.Span<double>(), t.Span<double>(), gc.Span<double>(), dp.Span<double>());
        return [dp, null];
    }
}
