using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Softmax along <paramref name="axis"/>: exp(x - max) / sum(exp(x - max)).</summary>
    public Tensor Softmax(int axis = -1)
    {
        int a = Shapes.NormalizeAxis("Softmax", axis, Rank, Dims);
        var y = SoftmaxRows(this, a, log: false);
        if (NeedsGrad(this)) y.SetGradFn(new SoftmaxBackward(this, y, a));
        return y;
    }

    /// <summary>Runs a row kernel along <paramref name="axis"/> (moved last, made contiguous, moved back).</summary>
    internal static Tensor SoftmaxRows(Tensor x, int axis, bool log)
    {
        var perm = Enumerable.Range(0, x.Rank).Where(i => i != axis).Append(axis).ToArray();
        var inv = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inv[perm[i]] = i;
        var xc = x.Rank == 0 ? x.ContiguousRaw() : x.PermuteRaw(perm).ContiguousRaw();
        var y = EmptyLike(xc);
        int n = x.Rank == 0 ? 1 : x.Dims[axis];
        DTypeDispatch.Run(xc, y, new SoftmaxKernel(n, log));
        return x.Rank == 0 ? y : y.PermuteRaw(inv).ContiguousRaw();
    }
}

// y = softmax(x): dx = y * (dy - sum(dy * y, axis))
internal sealed class SoftmaxBackward(Tensor x, Tensor y, int axis) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var y = Saved(0);
        return [y.Mul(g.Sub(g.Mul(y).Sum(axis, keepDim: true)))];
    }
}
