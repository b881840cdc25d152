
namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// The same elements with a new shape; one size may be -1 and is inferred. Shares storage when the tensor is
    /// contiguous, else copies (as torch.reshape).
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        var target = InferShape("Reshape", shape);
        var y = ReshapeRaw(target);
        if (NeedsGrad(this)) y.SetGradFn(new ReshapeBackward(this));
        return y;
    }

    /// <summary>Like <see cref="Reshape"/> but never copies: fails on a non-contiguous tensor.</summary>
    public Tensor View(params int[] shape)
    {
        if (!IsContiguous)
            throw new InvalidOperationException($"View: tensor of shape {Shapes.Format(Dims)} with strides {Shapes.Format(StrideArr)} is not contiguous; use Reshape() or Contiguous().");
        return Reshape(shape);
    }

    /// <summary>Flattens dimensions <paramref name="startAxis"/>..<paramref name="endAxis"/> into one.</summary>
    public Tensor Flatten(int startAxis = 0, int endAxis = -1)
    {
        if (Rank == 0) return Reshape(1);
        int s = Shapes.NormalizeAxis("Flatten", startAxis, Rank, Dims), e = Shapes.NormalizeAxis("Flatten", endAxis, Rank, Dims);
        if (s > e) throw new ArgumentException($"Flatten: startAxis {startAxis} comes after endAxis {endAxis} for shape {Shapes.Format(Dims)}.");
        var shape = new List<int>();
        for (int i = 0; i < s; i++) shape.Add(Dims[i]);
        int m = 1;
        for (int i = s; i <= e; i++) m *= Dims[i];
        shape.Add(m);
        for (int i = e + 1; i < Rank; i++) shape.Add(Dims[i]);
        return Reshape([.. shape]);
    }

    /// <summary>Inserts a dimension of size 1 at <paramref name="axis"/>.</summary>
    public Tensor Unsqueeze(int axis)
    {
        int a = axis < 0 ? axis + Rank + 1 : axis;
        if (a < 0 || a > Rank) throw new ArgumentOutOfRangeException(nameof(axis), $"Unsqueeze: axis {axis} is out of range for shape {Shapes.Format(Dims)}; expected {-Rank - 1}..{Rank}.");
        var shape = new List<int>(Dims);
        shape.Insert(a, 1);
        return Reshape([.. shape]);
    }

    /// <summary>Removes dimension <paramref name="axis"/>, which must have size 1.</summary>
    public Tensor Squeeze(int axis)
    {
        int a = Shapes.NormalizeAxis("Squeeze", axis, Rank, Dims);
        if (Dims[a] != 1) throw new ArgumentException($"Squeeze: dimension {axis} has size {Dims[a]}, expected 1 (shape {Shapes.Format(Dims)}).");
        var shape = new List<int>(Dims);
        shape.RemoveAt(a);
        return Reshape([.. shape]);
    }

    private int[] InferShape(string op, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var target = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one size may be -1, got {Shapes.Format(shape)}.");
                infer = i;
            }
            else if (target[i] < 0) throw new ArgumentException($"{op}: invalid size {target[i]} in {Shapes.Format(shape)}.");
            else known *= target[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || NumElements % known != 0)
                throw new ArgumentException($"{op}: shape {Shapes.Format(shape)} is invalid for a tensor of {NumElements} elements (shape {Shapes.Format(Dims)}).");
            target[infer] = (int)(NumElements / known);
        }
        else if (known != NumElements)
        {
            throw new ArgumentException($"{op}: shape {Shapes.Format(shape)} has {known} elements but the tensor has {NumElements} (shape {Shapes.Format(Dims)}).");
        }
        return target;
    }
}

// y = reshape(x, s): dx = reshape(dy, shape(x))
internal sealed class ReshapeBackward(Tensor x) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor g) => [g.Reshape(_shape)];
}
