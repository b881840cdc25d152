using Sharpgrad.Kernels;

namespace Sharpgrad;

public static partial class Losses
{
    /// <summary>
    /// Softmax cross-entropy: logits (N, C) and class indices (N) -> -log softmax(logits)[i, target_i], reduced.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, Reduction reduction = Reduction.Mean)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.Rank != 2)
            throw new ArgumentException($"CrossEntropy: expected logits of shape (N, C), got {Shapes.Format(logits.Dims)}.");
        int n = logits.Dims[0], c = logits.Dims[1];
        if (targets.Length != n)
            throw new ArgumentException($"CrossEntropy: {targets.Length} targets for a batch of {n}: logits {Shapes.Format(logits.Dims)}, targets [{targets.Length}].");
        for (int i = 0; i < n; i++)
            if ((uint)targets[i] >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(targets), $"CrossEntropy: target {targets[i]} at index {i} is out of range for {c} classes (expected 0..{c - 1}).");
        var logp = Tensor.SoftmaxRows(logits, 1, log: true);
        var y = Tensor.Empty(logits.DType, [n]);
        DTypeDispatch.Run(logp, y, new CrossEntropyKernel(targets, c));
        if (Tensor.NeedsGrad(logits)) y.SetGradFn(new CrossEntropyBackward(logits, logp, (int[])targets.Clone()));
        return Reduce(y, reduction);
    }
}

// l_i = -log_softmax(x)[i, t_i]: dx_i = dl_i (softmax(x_i) - onehot(t_i))
internal sealed class CrossEntropyBackward(Tensor logits, Tensor logp, int[] targets) : Node([logits], logp)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var logp = Saved(0);
        var gc = g.ContiguousRaw();
        var dx = Tensor.EmptyLike(logp);
        int c = logp.Dims[1];
        DTypeDispatch.Run(logp, gc, dx, new CrossEntropyKernel(targets, c));
        return [dx];
    }
}
