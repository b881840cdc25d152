using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise square root.</summary>
    public Tensor Sqrt()
    {
        var y = Elementwise.Map(this, default(SqrtKernel));
        if (NeedsGrad(this)) y.SetGradFn(new SqrtBackward(this, y));
        return y;
    }
}

// y = sqrt(x): dx = dy / (2 y)
internal sealed class SqrtBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Div(Saved(0).Mul(2.0))];
}
