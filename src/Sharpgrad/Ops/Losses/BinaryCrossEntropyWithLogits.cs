using Sharpgrad.Kernels;

namespace Sharpgrad;

public static partial class Losses
{
    /// <summary>
    /// Binary cross-entropy on raw scores x (logits), computed stably as (1 - t) x + max(-x, 0) + log(1 + e^-|x|) (PyTorch's form).
    /// Differentiable with respect to input and target.
    /// </summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        CheckSameShape("BinaryCrossEntropyWithLogits", input, target);
        var y = Elementwise.Map(input, target, default(BceLogitsKernel));
        if (Tensor.NeedsGrad(input, target)) y.SetGradFn(new BinaryCrossEntropyWithLogitsBackward(input, target));
        return Reduce(y, reduction);
    }
}

// l = bce_logits(x, t): dx = dl (sigmoid(x) - t), dt = -dl x
internal sealed class BinaryCrossEntropyWithLogitsBackward(Tensor x, Tensor t) : Node([x, t], x, t)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        Tensor x = Saved(0), t = Saved(1);
        return [NeedsInputGrad(0) ? g.Mul(x.Sigmoid().Sub(t)) : null, NeedsInputGrad(1) ? g.Mul(x).Neg() : null];
    }
}
