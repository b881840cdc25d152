
namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Stacks <paramref name="tensors"/> of one shape along a new axis (torch.stack): k tensors of shape (d0..dr) ->
    /// (d0..k..dr) with k at <paramref name="axis"/> (-(rank+1)..rank), contiguous. Each input gets its slice of the gradient.
    /// </summary>
    /// <exception cref="ArgumentException">The list is empty or the dtypes or shapes differ; the message names the op and the shapes.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="axis"/> is outside -(rank+1)..rank.</exception>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        var ts = ConcatOp.Check("Stack", tensors);
        var first = ts[0];
        for (int k = 1; k < ts.Length; k++)
            if (!Shapes.SameShape(ts[k].Dims, first.Dims))
                throw new ArgumentException($"Stack: tensors must have the same shape: tensor 0 {Shapes.Format(first.Dims)}, tensor {k} {Shapes.Format(ts[k].Dims)}.");
        int r = first.Rank;
        if (axis < -(r + 1) || axis > r)
            throw new ArgumentOutOfRangeException(nameof(axis), $"Stack: axis {axis} is out of range for tensors of shape {Shapes.Format(first.Dims)}; expected {-(r + 1)}..{r}.");
        int a = axis < 0 ? axis + r + 1 : axis;
        // each input as a view with a unit dimension at the axis (its stride is never used)
        var views = ts.Select(t =>
        {
            var shape = new List<int>(t.Dims);
            var strides = new List<int>(t.StrideArr);
            shape.Insert(a, 1);
            strides.Insert(a, 1);
            return t.ViewOf([.. shape], [.. strides], t.Offset);
        }).ToArray();
        var y = ConcatOp.Run(views, a);
        if (GradMode.IsEnabled && ts.Any(t => t.RequiresGrad)) y.SetGradFn(new StackBackward(ts, a));
        return y;
    }
}

// y = stack(x_0..x_k, axis): dx_k = dy at index k of the axis
internal sealed class StackBackward(Tensor[] inputs, int axis) : Node(inputs)
{
    private readonly int _count = inputs.Length;

    internal override Tensor?[] Backward(Tensor g)
    {
        var grads = new Tensor?[_count];
        for (int k = 0; k < _count; k++)
            if (NeedsInputGrad(k)) grads[k] = g.Narrow(axis, k, 1).Squeeze(axis);
        return grads;
    }
}
