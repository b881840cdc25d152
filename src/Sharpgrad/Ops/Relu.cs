using System.Numerics;
using System.Numerics.Tensors;
using Sharpgrad.Autograd;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise max(x, 0).</summary>
    public Tensor Relu()
    {
        var y = Elementwise.Map(this, default(ReluKernel));
        if (NeedsGrad(this)) y.SetGradFn(new ReluBackward(this, y));
        return y;
    }
}

// x: any shape -> y: same shape
internal readonly struct ReluKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Max(x, T.Zero, y);
}

// y = max(x, 0): dx = dy where y > 0, else 0 (0 at x = 0, as PyTorch)
internal sealed class ReluBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0).Positive())];
}
