using System.Numerics;
using System.Runtime.InteropServices;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise e^x.</summary>
    public Tensor Exp()
    {
        var y = Elementwise.Map(this, default(ExpKernel));
        if (NeedsGrad(this)) y.SetGradFn(new ExpBackward(this, y));
        return y;
    }
}

// x: any shape -> y: same shape
internal readonly struct ExpKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) ElementwiseMath.Exp(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y));
        else ElementwiseMath.Exp(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y));
    }
}

// y = exp(x): dx = dy * y
internal sealed class ExpBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0))];
}
