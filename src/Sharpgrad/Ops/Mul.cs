using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise product with broadcasting: (A) * (B) -> broadcast(A, B).</summary>
    public Tensor Mul(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var y = Elementwise.Zip("Mul", this, other, default(MulKernel));
        if (NeedsGrad(this, other)) y.SetGradFn(new MulBackward(this, other));
        return y;
    }
}

// y = a * b: da = sumTo(dy * b, a), db = sumTo(dy * a, b)
internal sealed class MulBackward(Tensor a, Tensor b) : Node([a, b], a, b)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        Tensor a = Saved(0), b = Saved(1);
        return [NeedsInputGrad(0) ? g.Mul(b).SumTo(a.Dims) : null, NeedsInputGrad(1) ? g.Mul(a).SumTo(b.Dims) : null];
    }
}
