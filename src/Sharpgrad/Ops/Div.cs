using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise quotient with broadcasting: (A) / (B) -> broadcast(A, B).</summary>
    public Tensor Div(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var y = Elementwise.Zip("Div", this, other, default(DivKernel));
        if (NeedsGrad(this, other)) y.SetGradFn(new DivBackward(this, other));
        return y;
    }
}

// y = a / b: da = sumTo(dy / b, a), db = sumTo(-dy ((a / b) / b), b), as PyTorch: b^2 would underflow or overflow
// (b = 1e-30 in float32) where (a / b) / b does not
internal sealed class DivBackward(Tensor a, Tensor b) : Node([a, b], a, b)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        Tensor a = Saved(0), b = Saved(1);
        return
        [
            NeedsInputGrad(0) ? g.Div(b).SumTo(a.Dims) : null,
            NeedsInputGrad(1) ? g.Mul(a.Div(b).Div(b)).Neg().SumTo(b.Dims) : null,
        ];
    }
}
