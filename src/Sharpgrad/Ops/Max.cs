using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Maximum of all elements, as a zero-dimensional tensor.</summary>
    public Tensor Max() => Max([], keepDim: false);

    /// <summary>Maximum over <paramref name="axis"/>.</summary>
    public Tensor Max(int axis, bool keepDim = false) => Max([axis], keepDim);

    /// <summary>
    /// Maximum over <paramref name="axes"/> (all when empty), as torch.amax: the gradient is shared evenly
    /// between elements that tie for the maximum.
    /// </summary>
    public Tensor Max(int[] axes, bool keepDim = false)
    {
        ArgumentNullException.ThrowIfNull(axes);
        var ax = Reduce.Axes("Max", this, axes);
        var y = Reduce.Run("Max", this, ax, keepDim, default(MaxReduction));
        if (NeedsGrad(this)) y.SetGradFn(new MaxBackward(this, y, ax));
        return y;
    }
}

// x: (d0..dn) -> y: max over axes; dx = dy * [x == max] / (number of ties)
internal sealed class MaxBackward(Tensor x, Tensor y, int[] axes) : Node([x], x, y)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var x = Saved(0);
        var keep = Reduce.KeepShape(x.Dims, axes);
        var mask = Elementwise.Zip("Max", x, Saved(1).Reshape(keep), default(EqualMask));
        var ties = mask.Sum(axes, keepDim: true);
        return [g.Reshape(keep).Div(ties).Mul(mask)];
    }
}
