using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise difference with broadcasting: (A) - (B) -> broadcast(A, B).</summary>
    public Tensor Sub(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var y = Elementwise.Zip("Sub", this, other, default(SubKernel));
        if (NeedsGrad(this, other)) y.SetGradFn(new SubBackward(this, other));
        return y;
    }
}

// y = a - b: da = sumTo(dy, a), db = -sumTo(dy, b)
internal sealed class SubBackward(Tensor a, Tensor b) : Node([a, b])
{
    private readonly int[] _a = a.Shape, _b = b.Shape;

    internal override Tensor?[] Backward(Tensor g) =>
        [NeedsInputGrad(0) ? g.SumTo(_a) : null, NeedsInputGrad(1) ? g.SumTo(_b).Neg() : null];
}
