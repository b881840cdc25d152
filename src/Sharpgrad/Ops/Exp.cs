using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise e^x.</summary>
    public Tensor Exp()
    {
        var y = Elementwise.Map(this, default(ExpKernel));
        if (NeedsGrad(this)) y.SetGradFn(new ExpBackward(this, y));
        return y;
    }
}

// y = exp(x): dx = dy * y
internal sealed class ExpBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0))];
}
