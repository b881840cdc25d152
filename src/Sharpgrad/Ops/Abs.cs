using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise absolute value.</summary>
    public Tensor Abs()
    {
        var y = Elementwise.Map(this, default(AbsKernel));
        if (NeedsGrad(this)) y.SetGradFn(new AbsBackward(this));
        return y;
    }

    /// <summary>sign(x): -1, 0 or 1 (not differentiable; Abs's backward uses it).</summary>
    internal Tensor Sign() => Elementwise.Map(this, default(SignKernel));
}

// y = |x|: dx = dy * sign(x), sign(0) = 0
internal sealed class AbsBackward(Tensor x) : Node([x], x)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0).Sign())];
}
