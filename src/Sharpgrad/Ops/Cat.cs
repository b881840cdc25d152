using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Concatenates <paramref name="tensors"/> along <paramref name="axis"/> (torch.cat): shapes (d0..n_k..dr), equal
    /// except along the axis -> (d0..sum_k n_k..dr), contiguous. Each input gets its slice of the gradient.
    /// </summary>
    /// <exception cref="ArgumentException">The list is empty, a tensor is zero-dimensional, or the dtypes, ranks or
    /// sizes off the axis differ; the message names the op and the shapes.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="axis"/> is outside -rank..rank-1.</exception>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        var ts = ConcatOp.Check("Cat", tensors);
        var first = ts[0];
        if (first.Rank == 0) throw new ArgumentException("Cat: zero-dimensional tensors cannot be concatenated; use Stack or Unsqueeze them first.");
        int a = Shapes.NormalizeAxis("Cat", axis, first.Rank, first.Dims);
        for (int k = 1; k < ts.Length; k++)
        {
            var t = ts[k];
            if (t.Rank != first.Rank)
                throw new ArgumentException($"Cat: tensors must have the same rank: tensor 0 {Shapes.Format(first.Dims)}, tensor {k} {Shapes.Format(t.Dims)}.");
            for (int d = 0; d < first.Rank; d++)
                if (d != a && t.Dims[d] != first.Dims[d])
                    throw new ArgumentException($"Cat: sizes differ in dimension {d} ({first.Dims[d]} vs {t.Dims[d]}), the only one that may differ is {a}: tensor 0 {Shapes.Format(first.Dims)}, tensor {k} {Shapes.Format(t.Dims)}.");
        }
        var y = ConcatOp.Run(ts, a);
        if (GradMode.IsEnabled && ts.Any(t => t.RequiresGrad)) y.SetGradFn(new CatBackward(ts, a));
        return y;
    }
}

internal static class ConcatOp
{
    public static Tensor[] Check(string op, IReadOnlyList<Tensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        if (tensors.Count == 0) throw new ArgumentException($"{op}: expected at least one tensor, got an empty list.", nameof(tensors));
        var ts = new Tensor[tensors.Count];
        for (int k = 0; k < ts.Length; k++)
        {
            ts[k] = tensors[k] ?? throw new ArgumentNullException(nameof(tensors), $"{op}: tensor {k} is null.");
            Tensor.CheckSameDType(op, ts[0], ts[k]);
        }
        return ts;
    }

    /// <summary>Copies <paramref name="views"/> (same rank, equal off <paramref name="axis"/>) into one new contiguous tensor, side by side along the axis.</summary>
    public static Tensor Run(Tensor[] views, int axis)
    {
        var shape = (int[])views[0].Dims.Clone();
        shape[axis] = views.Sum(v => v.Dims[axis]);
        var y = Tensor.Empty(views[0].DType, shape);
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        int dstRow = shape[axis] * inner, offset = 0;
        foreach (var v in views)
        {
            var c = v.ContiguousRaw();
            int srcRow = v.Dims[axis] * inner;
            DTypeDispatch.Run(c, y, new CatKernel(outer, srcRow, dstRow, offset));
            offset += srcRow;
        }
        return y;
    }
}

// y = cat(x_0..x_k, axis): dx_k = dy narrowed to x_k's range along the axis
internal sealed class CatBackward : Node
{
    private readonly int _axis;
    private readonly int[] _sizes;

    public CatBackward(Tensor[] inputs, int axis) : base(inputs)
    {
        _axis = axis;
        _sizes = inputs.Select(t => t.Dims[axis]).ToArray();
    }

    internal override Tensor?[] Backward(Tensor g)
    {
        var grads = new Tensor?[_sizes.Length];
        int start = 0;
        for (int k = 0; k < _sizes.Length; k++)
        {
            if (NeedsInputGrad(k)) grads[k] = g.Narrow(_axis, start, _sizes[k]);
            start += _sizes[k];
        }
        return grads;
    }
}
