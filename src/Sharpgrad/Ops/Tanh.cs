using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise hyperbolic tangent.</summary>
    public Tensor Tanh()
    {
        var y = Elementwise.Map(this, default(TanhKernel));
        if (NeedsGrad(this)) y.SetGradFn(new TanhBackward(this, y));
        return y;
    }
}

// y = tanh(x): dx = dy * (1 - y^2)
internal sealed class TanhBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Mul(Tensor.OnesLike(Saved(0)).Sub(Saved(0).Mul(Saved(0))))];
}
