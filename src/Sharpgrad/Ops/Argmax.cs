using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Index of the largest element along <paramref name="axis"/> (torch.argmax): (d0..n..dr) -> (d0..dr), or
    /// (d0..1..dr) with <paramref name="keepDim"/>. The indices are whole numbers in this tensor's dtype (so they
    /// compare with <see cref="Eq(Tensor)"/> against float labels); the first maximum wins on ties, and a NaN counts
    /// as the maximum (the first NaN), as PyTorch. Not differentiable: the result records no gradient.
    /// </summary>
    /// <exception cref="ArgumentException">The axis has no elements, or (float32) more than 2^24, which float32 cannot index exactly.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="axis"/> is outside -rank..rank-1.</exception>
    public Tensor Argmax(int axis, bool keepDim = false)
    {
        int a = Shapes.NormalizeAxis("Argmax", axis, Rank, Dims);
        if (Rank == 0) return Zeros([], DType);
        int n = Dims[a], outer = 1, inner = 1;
        for (int d = 0; d < a; d++) outer *= Dims[d];
        for (int d = a + 1; d < Rank; d++) inner *= Dims[d];
        ArgmaxOp.CheckCount(this, n, $"dimension {axis}");
        var shape = new List<int>(Dims);
        if (keepDim) shape[a] = 1;
        else shape.RemoveAt(a);
        var x = ContiguousRaw();
        var y = Empty(DType, [.. shape]);
        DTypeDispatch.Run(x, y, new ArgmaxKernel(outer, n, inner));
        return y;
    }

    /// <summary>
    /// Index of the largest element of the flattened tensor (torch.argmax with no dim), as a zero-dimensional tensor
    /// of this tensor's dtype; first maximum and NaN rules as <see cref="Argmax(int, bool)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is empty, or (float32) has more than 2^24 elements.</exception>
    public Tensor Argmax()
    {
        ArgmaxOp.CheckCount(this, NumElements, "the tensor");
        var x = ContiguousRaw();
        var y = Empty(DType, []);
        DTypeDispatch.Run(x, y, new ArgmaxKernel(1, NumElements, 1));
        return y;
    }
}

internal static class ArgmaxOp
{
    public static void CheckCount(Tensor x, int n, string what)
    {
        if (n == 0) throw new ArgumentException($"Argmax: {what} has no elements (shape {Shapes.Format(x.Dims)}).");
        if (x.DType == DType.Float32 && n > 1 << 24)
            throw new ArgumentException($"Argmax: {what} has {n} elements, more than float32 indexes exactly (2^24), shape {Shapes.Format(x.Dims)}; convert with To(DType.Float64).");
    }
}
