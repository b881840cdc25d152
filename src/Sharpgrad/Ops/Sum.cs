using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Sum of all elements, as a zero-dimensional tensor.</summary>
    public Tensor Sum() => Sum([], keepDim: false);

    /// <summary>Sum over <paramref name="axis"/>.</summary>
    public Tensor Sum(int axis, bool keepDim = false) => Sum([axis], keepDim);

    /// <summary>Sum over <paramref name="axes"/> (all when empty); with <paramref name="keepDim"/> the reduced axes stay as size 1.</summary>
    public Tensor Sum(int[] axes, bool keepDim = false)
    {
        ArgumentNullException.ThrowIfNull(axes);
        var ax = Reduce.Axes("Sum", this, axes);
        var y = Reduce.Run("Sum", this, ax, keepDim, default(SumReduction));
        if (NeedsGrad(this)) y.SetGradFn(new SumBackward(this, ax));
        return y;
    }

    internal Tensor SumRaw(int[] axes, bool keepDim) => Reduce.Run("Sum", this, axes, keepDim, default(SumReduction));
}

// x: (d0..dn) -> y: reduced over axes; dx = dy broadcast back over the reduced axes
internal sealed class SumBackward(Tensor x, int[] axes) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor g) => [g.Reshape(Reduce.KeepShape(_shape, axes)).Expand(_shape)];
}
