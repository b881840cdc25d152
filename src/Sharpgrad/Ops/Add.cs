using System.Numerics;
using System.Numerics.Tensors;
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

internal readonly struct AddKernel : IBinaryOp
{
    public T Scalar<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x + y;
    public void VV<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(x, y, d);
    public void VS<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(x, y, d);
    public void SV<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(y, x, d);
}

// y = a + b: da = sumTo(dy, a), db = sumTo(dy, b)
internal sealed class AddBackward(Tensor a, Tensor b) : Node([a, b])
{
    private readonly int[] _a = a.Shape, _b = b.Shape;

    internal override Tensor?[] Backward(Tensor g) =>
        [NeedsInputGrad(0) ? g.SumTo(_a) : null, NeedsInputGrad(1) ? g.SumTo(_b) : null];
}
