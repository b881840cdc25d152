using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Element-wise choice (torch.where): <paramref name="a"/> where <paramref name="condition"/> is non-zero, else
    /// <paramref name="b"/>; the three shapes broadcast together -> broadcast(C, A, B), contiguous, in the dtype of
    /// a and b. The condition may be either dtype (the comparisons give 0/1 masks) and gets no gradient; a gets the
    /// upstream gradient where the condition holds and b where it does not (summed over broadcast dimensions).
    /// </summary>
    /// <exception cref="ArgumentException">a and b differ in dtype, or the shapes do not broadcast.</exception>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        CheckSameDType("Where", a, b);
        int[] shape;
        try
        {
            shape = Shapes.Broadcast("Where", Shapes.Broadcast("Where", condition.Dims, a.Dims), b.Dims);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException($"Where: shapes cannot be broadcast together: condition {Shapes.Format(condition.Dims)}, a {Shapes.Format(a.Dims)}, b {Shapes.Format(b.Dims)}.");
        }
        var y = Empty(a.DType, shape);
        if (y.NumElements > 0)
        {
            var (cs, st) = Strided.Coalesce(shape,
                Shapes.BroadcastStrides(condition.Dims, condition.StrideArr, shape),
                Shapes.BroadcastStrides(a.Dims, a.StrideArr, shape),
                Shapes.BroadcastStrides(b.Dims, b.StrideArr, shape),
                Shapes.ContiguousStrides(shape));
            int[] offsets = [condition.Offset, a.Offset, b.Offset, 0], index = new int[cs.Length];
            if (a.DType == DType.Float32)
            {
                if (condition.DType == DType.Float32) WhereKernel.Run<float, float>(condition.Array<float>(), a.Array<float>(), b.Array<float>(), y.Span<float>(), cs, st, offsets, index);
                else WhereKernel.Run<double, float>(condition.Array<double>(), a.Array<float>(), b.Array<float>(), y.Span<float>(), cs, st, offsets, index);
            }
            else
            {
                if (condition.DType == DType.Float32) WhereKernel.Run<float, double>(condition.Array<float>(), a.Array<double>(), b.Array<double>(), y.Span<double>(), cs, st, offsets, index);
                else WhereKernel.Run<double, double>(condition.Array<double>(), a.Array<double>(), b.Array<double>(), y.Span<double>(), cs, st, offsets, index);
            }
        }
        if (NeedsGrad(a, b)) y.SetGradFn(new WhereBackward(condition, a, b));
        return y;
    }
}

// y = where(c, a, b): da = sumTo(where(c, dy, 0), a), db = sumTo(where(c, 0, dy), b)
internal sealed class WhereBackward(Tensor c, Tensor a, Tensor b) : Node([a, b], c)
{
    private readonly int[] _a = a.Shape, _b = b.Shape;

    internal override Tensor?[] Backward(Tensor g)
    {
        var c = Saved(0);
        var zero = Tensor.Scalar(0, g.DType);
        return [NeedsInputGrad(0) ? Tensor.Where(c, g, zero).SumTo(_a) : null, NeedsInputGrad(1) ? Tensor.Where(c, zero, g).SumTo(_b) : null];
    }
}
