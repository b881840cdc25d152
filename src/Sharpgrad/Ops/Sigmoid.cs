using System.Numerics;
using System.Runtime.InteropServices;
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

// x: any shape -> y: same shape
internal readonly struct SigmoidKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) ElementwiseMath.Sigmoid(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y));
        else ElementwiseMath.Sigmoid(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y));
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
