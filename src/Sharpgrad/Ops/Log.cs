using System.Numerics;
using System.Runtime.InteropServices;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise natural logarithm.</summary>
    public Tensor Log()
    {
        var y = Elementwise.Map(this, default(LogKernel));
        if (NeedsGrad(this)) y.SetGradFn(new LogBackward(this));
        return y;
    }
}

// x: any shape -> y: same shape
internal readonly struct LogKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) ElementwiseMath.Log(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y));
        else ElementwiseMath.Log(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y));
    }
}

// y = log(x): dx = dy / x
internal sealed class LogBackward(Tensor x) : Node([x], x)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Div(Saved(0))];
}
