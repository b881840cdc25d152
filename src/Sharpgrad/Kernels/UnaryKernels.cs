using System.Numerics;
using System.Numerics.Tensors;

namespace Sharpgrad.Kernels;

// Element-wise functions of one operand (IUnaryOp), each x: (n) -> y: (n); Elementwise.Map runs them over tensors.

/// <summary>
/// A kernel of one input, x -> y, run on whole spans (by DTypeDispatch): how the lengths of x and y relate (rows,
/// windows, blocks) is the kernel's business.
/// </summary>
internal interface ISpanKernel
{
    void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An element-wise function of one tensor: y[i] depends on x[i] alone, so the spans may be split anywhere (Elementwise.Map).</summary>
internal interface IUnaryOp : ISpanKernel
{
}

// x: any shape -> y: same shape
internal readonly struct AbsKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Abs(x, y);
}

// x -> sign(x)
internal readonly struct SignKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? T.One : x[i] < T.Zero ? -T.One : T.Zero;
    }
}

// x: any shape -> y: same shape
internal readonly struct NegKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Negate(x, y);
}

// x: any shape -> y: same shape
internal readonly struct SqrtKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Sqrt(x, y);
}

// x: any shape -> y: same shape
internal readonly struct ExpKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ElementwiseMath.Exp(x, y);
}

// x: any shape -> y: same shape
internal readonly struct LogKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ElementwiseMath.Log(x, y);
}

// x: any shape -> y: same shape
internal readonly struct TanhKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ElementwiseMath.Tanh(x, y);
}

// x: any shape -> y: same shape
internal readonly struct SigmoidKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ElementwiseMath.Sigmoid(x, y);
}

// x: any shape -> y: same shape
internal readonly struct StepKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] >= T.Zero ? T.One : T.Zero;
    }
}

// x: any shape -> y: same shape
internal readonly struct ClampKernel(double lo, double hi) : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Max(x, T.CreateSaturating(lo), y);
        TensorPrimitives.Min(y, T.CreateSaturating(hi), y);
    }
}

// x -> 1 where lo <= x <= hi, else 0
internal readonly struct InRangeMask(double lo, double hi) : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T l = T.CreateSaturating(lo), h = T.CreateSaturating(hi);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] >= l && x[i] <= h ? T.One : T.Zero;
    }
}

// x: any shape -> y: same shape. The exponents PyTorch's pow kernel special-cases run as it runs them (2: x x,
// 3: x x x, 0.5: sqrt, -0.5: 1 / sqrt, -1: 1 / x, -2: 1 / (x x)), so edge values agree: pow(-inf, 0.5) is NaN as
// sqrt(-inf), pow(-0, -0.5) is -inf; the backward's x^(p - 1) goes through the same cases.
internal readonly struct PowKernel(double p) : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (p)
        {
            case 0:
                y.Fill(T.One);
                break;
            case 1:
                x.CopyTo(y);
                break;
            case 2:
                TensorPrimitives.Multiply(x, x, y);
                break;
            case 3:
                TensorPrimitives.Multiply(x, x, y);
                TensorPrimitives.Multiply(y, x, y);
                break;
            case 0.5:
                TensorPrimitives.Sqrt(x, y);
                break;
            case -0.5:
                TensorPrimitives.Sqrt(x, y);
                TensorPrimitives.Divide(T.One, y, y);
                break;
            case -1:
                TensorPrimitives.Divide(T.One, x, y);
                break;
            case -2:
                TensorPrimitives.Multiply(x, x, y);
                TensorPrimitives.Divide(T.One, y, y);
                break;
            default:
                TensorPrimitives.Pow(x, T.CreateChecked(p), y);
                break;
        }
    }
}
