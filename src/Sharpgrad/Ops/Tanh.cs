using System.Numerics;
using System.Runtime.InteropServices;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise hyperbolic tangent.</summary>
    public Tensor Tanh()
    {
        var y = Elementwise.Map(this, default(TanhKernel));
        if (NeedsGrad(this)) y.SetGradFn(new TanhBackward(this, y));
        return y;
    }
}

// x: any shape -> y: same shape
internal readonly struct TanhKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) ElementwiseMath.Tanh(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y));
        else ElementwiseMath.Tanh(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y));
    }
}

// y = tanh(x): dx = dy * (1 - y^2)
internal sealed class TanhBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Mul(Tensor.OnesLike(Saved(0)).Sub(Saved(0).Mul(Saved(0))))];
}
