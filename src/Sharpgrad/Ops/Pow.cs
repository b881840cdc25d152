using System.Numerics;
using System.Numerics.Tensors;
using Sharpgrad.Autograd;
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

// x: any shape -> y: same shape
internal readonly struct PowKernel(double p) : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var e = T.CreateChecked(p);
        if (p == 2) TensorPrimitives.Multiply(x, x, y);
        else if (p == 1) x.CopyTo(y);
        else if (p == 0) y.Fill(T.One);
        else TensorPrimitives.Pow(x, e, y);
    }
}

// y = x^p: dx = dy * p * x^(p-1)
internal sealed class PowBackward(Tensor x, double p) : Node([x], x)
{
    internal override Tensor?[] Backward(Tensor g) =>
        [p == 0 ? Tensor.ZerosLike(g) : g.Mul(Saved(0).Pow(p - 1).Mul(p))];
}
