using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise sum with broadcasting: (A) + (B) -> broadcast(A, B).</summary>
    public Tensor Add(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var y = Elementwise.Zip("Add", this, other, default(AddKernel));
        if (NeedsGrad(this, other)) y.SetGradFn(new AddBackward(this, other));
        return y;
    }
}

// y = a + b: da = sumTo(dy, a), db = sumTo(dy, b)
internal sealed class AddBackward(Tensor a, Tensor b) : Node([a, b])
{
    private readonly int[] _a = a.Shape, _b = b.Shape;

    internal override Tensor?[] Backward(Tensor g) =>
        [NeedsInputGrad(0) ? g.SumTo(_a) : null, NeedsInputGrad(1) ? g.SumTo(_b) : null];
}
