using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise negation, -x.</summary>
    public Tensor Neg()
    {
        var y = Elementwise.Map(this, default(NegKernel));
        if (NeedsGrad(this)) y.SetGradFn(new NegBackward(this));
        return y;
    }
}

// y = -x: dx = -dy
internal sealed class NegBackward(Tensor x) : Node([x])
{
    internal override Tensor?[] Backward(Tensor g) => [g.Neg()];
}
