using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise logistic function 1 / (1 + e^-x).</summary>
    public Tensor Sigmoid()
    {
        var y = Elementwise.Map(this, default(SigmoidKernel));
        if (NeedsGrad(this)) y.SetGradFn(new SigmoidBackward(this, y));
        return y;
    }
}

// y = sigmoid(x): dx = dy * y * (1 - y), and y(1 - y) <= 1/4
internal sealed class SigmoidBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var y = Saved(0);
        return [g.Mul(y.Mul(Tensor.OnesLike(y).Sub(y)))];
    }
}
