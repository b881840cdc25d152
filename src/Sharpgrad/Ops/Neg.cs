using System.Numerics;
using System.Numerics.Tensors;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise negation, -x.</summary>
    public Tensor Neg()
    {
        var y = Elementwise.Map(this, default(NegKernel));
        if (NeedsGrad(this)) y.SetGradFn(new NegBackward(this));
        return y;
    }
}

// x: any shape -> y: same shape
internal readonly struct NegKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Negate(x, y);
}

// y = -x: dx = -dy
internal sealed class NegBackward(Tensor x) : Node([x])
{
    internal override Tensor?[] Backward(Tensor g) => [g.Neg()];
}
