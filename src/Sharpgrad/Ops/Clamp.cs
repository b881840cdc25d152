using System.Numerics;
using System.Numerics.Tensors;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise clamp into [<paramref name="min"/>, <paramref name="max"/>]; either bound may be omitted.</summary>
    public Tensor Clamp(double? min = null, double? max = null)
    {
        if (min is null && max is null) throw new ArgumentException("Clamp: give at least one of min and max.");
        if (min > max) throw new ArgumentException($"Clamp: min {min} is greater than max {max}.");
        double lo = min ?? double.NegativeInfinity, hi = max ?? double.PositiveInfinity;
        var y = Elementwise.Map(this, new ClampKernel(lo, hi));
        if (NeedsGrad(this)) y.SetGradFn(new ClampBackward(this, lo, hi));
        return y;
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

// y = clamp(x, lo, hi): dx = dy where lo <= x <= hi (bounds included, as PyTorch), else 0
internal sealed class ClampBackward(Tensor x, double lo, double hi) : Node([x], x)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Mul(Elementwise.Map(Saved(0), new InRangeMask(lo, hi)))];
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
