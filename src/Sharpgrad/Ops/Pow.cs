using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise x^<paramref name="exponent"/> for a scalar exponent.</summary>
    public Tensor Pow(double exponent)
    {
        var y = Elementwise.Map(this, new PowKernel(exponent));
        if (NeedsGrad(this)) y.SetGradFn(new PowBackward(this, exponent));
        return y;
    }
}

// y = x^p: dx = dy * p * x^(p-1)
internal sealed class PowBackward(Tensor x, double p) : Node([x], x)
{
    internal override Tensor?[] Backward(Tensor g) =>
        [p == 0 ? Tensor.ZerosLike(g) : g.Mul(Saved(0).Pow(p - 1).Mul(p))];
}
