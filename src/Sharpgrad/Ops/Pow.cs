using System.Numerics;
using System.Numerics.Tensors;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise x^<paramref name="exponent"/> for a scalar exponent.</summary>
    public Tensor Pow(double exponent)
    {
        var y = Elementwise.Map(this, new PowKernel(exponent));
        if (NeedsGrad(this)) y.SetGradFn(new PowBackward(this, exponent));
        return y;
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

// y = x^p: dx = dy * p * x^(p-1)
internal sealed class PowBackward(Tensor x, double p) : Node([x], x)
{
    internal override Tensor?[] Backward(Tensor g) =>
        [p == 0 ? Tensor.ZerosLike(g) : g.Mul(Saved(0).Pow(p - 1).Mul(p))];
}
