using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Mean of all elements, as a zero-dimensional tensor.</summary>
    public Tensor Mean() => Mean([], keepDim: false);

    /// <summary>Mean over <paramref name="axis"/>.</summary>
    public Tensor Mean(int axis, bool keepDim = false) => Mean([axis], keepDim);

    /// <summary>Mean over <paramref name="axes"/> (all when empty).</summary>
    public Tensor Mean(int[] axes, bool keepDim = false)
    {
        ArgumentNullException.ThrowIfNull(axes);
        var ax = Reduce.Axes("Mean", this, axes);
        int count = 1;
        foreach (int a in ax) count *= Dims[a];
        var y = Reduce.Run("Mean", this, ax, keepDim, default(SumReduction));
        using (GradMode.NoGrad()) y = y.Div(count); // one rounding (a multiply by 1/count rounds twice)
        if (NeedsGrad(this)) y.SetGradFn(new MeanBackward(this, ax, count));
        return y;
    }
}

// x: (d0..dn) -> y: mean over axes; dx = dy / count broadcast back over the reduced axes
internal sealed class MeanBackward(Tensor x, int[] axes, int count) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor g) => [g.Mul(1.0 / count).Reshape(Reduce.KeepShape(_shape, axes)).Expand(_shape)];
}
