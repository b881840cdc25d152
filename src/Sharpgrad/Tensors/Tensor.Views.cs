using Sharpgrad.Kernels;

namespace Sharpgrad;

// Views without autograd, used by the ops and kernels.
public sealed partial class Tensor
{
    /// <summary>This tensor if contiguous, else a contiguous copy; records nothing.</summary>
    internal Tensor ContiguousRaw()
    {
        if (IsContiguous) return this;
        var y = EmptyLike(this);
        if (DType == DType.Float32) Strided.Copy(Array<float>(), Offset, Dims, StrideArr, y.Span<float>());
        else Strided.Copy(Array<double>(), Offset, Dims, StrideArr, y.Span<double>());
        return y;
    }

    internal Tensor ReshapeRaw(int[] shape) =>
        IsContiguous ? ViewOf(shape, Shapes.ContiguousStrides(shape), Offset) : ContiguousRaw().ReshapeRaw(shape);

    internal Tensor PermuteRaw(int[] perm)
    {
        var shape = new int[Rank];
        var strides = new int[Rank];
        for (int i = 0; i < Rank; i++)
        {
            shape[i] = Dims[perm[i]];
            strides[i] = StrideArr[perm[i]];
        }
        return ViewOf(shape, strides, Offset);
    }

    internal Tensor ExpandRaw(int[] shape) => ViewOf(shape, Shapes.BroadcastStrides(Dims, StrideArr, shape), Offset);

    /// <summary>Sums a broadcast gradient back to <paramref name="shape"/> (the inverse of broadcasting).</summary>
    internal Tensor SumTo(int[] shape)
    {
        if (Shapes.SameShape(Dims, shape)) return this;
        int lead = Rank - shape.Length;
        var axes = new List<int>();
        for (int i = 0; i < Rank; i++)
            if (i < lead || (shape[i - lead] == 1 && Dims[i] != 1)) axes.Add(i);
        return SumRaw([.. axes], keepDim: true).ReshapeRaw(shape);
    }
}
