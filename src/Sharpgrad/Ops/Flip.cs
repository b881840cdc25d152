using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Reverses the order of elements along each axis in <paramref name="dims"/> (torch.flip): shape unchanged, a new
    /// contiguous tensor (torch.flip copies too). An image batch (N,C,H,W) flipped along axis 3 (or -1) is its
    /// horizontal mirror. The gradient is the output gradient flipped along the same axes.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="dims"/> is empty or names an axis twice; the message names
    /// the op and the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An axis is outside -rank..rank-1.</exception>
    public Tensor Flip(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        if (dims.Length == 0) throw new ArgumentException($"Flip: expected at least one axis of shape {Shapes.Format(Dims)}, got none.", nameof(dims));
        var axes = new int[dims.Length];
        var seen = new bool[Rank];
        for (int k = 0; k < dims.Length; k++)
        {
            axes[k] = Shapes.NormalizeAxis("Flip", dims[k], Rank, Dims);
            if (seen[axes[k]]) throw new ArgumentException($"Flip: axis {dims[k]} appears twice in {Shapes.Format(dims)} (shape {Shapes.Format(Dims)}).", nameof(dims));
            seen[axes[k]] = true;
        }
        var y = FlipRaw(axes);
        if (NeedsGrad(this)) y.SetGradFn(new FlipBackward(this, axes));
        return y;
    }

    // one copy per axis (the axes are normalized, distinct and at least one, so the result is never this tensor)
    internal Tensor FlipRaw(int[] axes)
    {
        var x = ContiguousRaw();
        foreach (int a in axes)
        {
            int outer = 1, inner = 1;
            for (int d = 0; d < a; d++) outer *= Dims[d];
            for (int d = a + 1; d < Rank; d++) inner *= Dims[d];
            var y = Empty(DType, Dims);
            if (x.NumElements > 0) DTypeDispatch.Run(x, y, new FlipKernel(outer, Dims[a], inner));
            x = y;
        }
        return x;
    }
}

// y = flip(x, axes): dx = flip(dy, axes)
internal sealed class FlipBackward(Tensor x, int[] axes) : Node([x])
{
    internal override Tensor?[] Backward(Tensor g) => [g.Flip(axes)];
}
