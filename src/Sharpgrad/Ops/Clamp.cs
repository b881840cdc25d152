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

// y = clamp(x, lo, hi): dx = dy where lo <= x <= hi (bounds included, as PyTorch), else 0
internal sealed class ClampBackward(Tensor x, double lo, double hi) : Node([x], x)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Mul(Elementwise.Map(Saved(0), new InRangeMask(lo, hi)))];
}
