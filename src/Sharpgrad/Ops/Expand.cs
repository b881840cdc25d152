
namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// A broadcast view at a larger <paramref name="shape"/> (no copy: broadcast dimensions get stride 0);
    /// -1 keeps a size.
    /// </summary>
    public Tensor Expand(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length < Rank)
            throw new ArgumentException($"Expand: target {Shapes.Format(shape)} has fewer dimensions than the tensor's shape {Shapes.Format(Dims)}.");
        var target = (int[])shape.Clone();
        int lead = shape.Length - Rank;
        for (int i = 0; i < target.Length; i++)
        {
            int src = i >= lead ? Dims[i - lead] : 1;
            if (target[i] == -1)
            {
                if (i < lead) throw new ArgumentException($"Expand: -1 is not allowed for a new leading dimension: {Shapes.Format(shape)}.");
                target[i] = src;
            }
            if (src != 1 && src != target[i])
                throw new ArgumentException($"Expand: dimension {i} of size {src} cannot expand to {target[i]}: tensor {Shapes.Format(Dims)}, target {Shapes.Format(shape)}.");
        }
        var y = ExpandRaw(target);
        if (NeedsGrad(this)) y.SetGradFn(new ExpandBackward(this));
        return y;
    }
}

// y = expand(x, s): dx = sum of dy over the broadcast dimensions
internal sealed class ExpandBackward(Tensor x) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor g) => [g.SumTo(_shape)];
}
