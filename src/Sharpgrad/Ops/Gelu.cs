using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Element-wise GELU in PyTorch's default exact form, x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (torch.nn.GELU()
    /// with approximate = "none"): any shape -> the same shape. Each element is computed in float64 (erf by W. J.
    /// Cody's rational approximations) and rounded once.
    /// </summary>
    public Tensor Gelu()
    {
        var xc = ContiguousRaw();
        var y = Elementwise.Map(xc, default(GeluOp));
        if (NeedsGrad(this)) y.SetGradFn(new GeluBackward(this, xc));
        return y;
    }
}

// y = x Phi(x): dx = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
internal sealed class GeluBackward(Tensor x, Tensor xc) : Node([x], xc)
{
    // erf and exp per element: worth threads from 2^14 elements
    internal override Tensor?[] Backward(Tensor g) => [Elementwise.Map(Saved(0), g, default(GeluOp), parallelFrom: 1 << 14)];
}
