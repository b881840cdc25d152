using Sharpgrad.Kernels;

namespace Sharpgrad;

public static partial class Losses
{
    /// <summary>
    /// Softmax cross-entropy: logits (N, C) and class indices (N) -> -log softmax(logits)[i, target_i], reduced.
    /// With <paramref name="labelSmoothing"/> eps > 0 the target is the mixture (1 - eps) onehot(t_i) + eps / C, as
    /// PyTorch's <c>torch.nn.functional.cross_entropy(..., label_smoothing=eps)</c> (Szegedy et al. 2016, "Rethinking the
    /// Inception Architecture", section 7): l_i = (1 - eps) (-log p[i, t_i]) + eps * mean over the C classes j of
    /// (-log p[i, j]), with p = softmax(logits); its gradient is softmax(logits)_i - (1 - eps) onehot(t_i) - eps / C.
    /// </summary>
    /// <param name="logits">Scores (N, C).</param>
    /// <param name="targets">Class indices (N), each in 0..C-1.</param>
    /// <param name="reduction">Mean (the default), Sum or None (one loss per sample).</param>
    /// <param name="labelSmoothing">eps in [0, 1]; 0 (the default) is plain cross-entropy.</param>
    /// <exception cref="ArgumentOutOfRangeException">A target out of range, or <paramref name="labelSmoothing"/> outside [0, 1].</exception>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, Reduction reduction = Reduction.Mean, double labelSmoothing = 0)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.Rank != 2)
            throw new ArgumentException($"CrossEntropy: expected logits of shape (N, C), got {Shapes.Format(logits.Dims)}.");
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"CrossEntropy: labelSmoothing must be in [0, 1], got {labelSmoothing}.");
        int n = logits.Dims[0], c = logits.Dims[1];
        if (targets.Length != n)
            throw new ArgumentException($"CrossEntropy: {targets.Length} targets for a batch of {n}: logits {Shapes.Format(logits.Dims)}, targets [{targets.Length}].");
        for (int i = 0; i < n; i++)
            if ((uint)targets[i] >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(targets), $"CrossEntropy: target {targets[i]} at index {i} is out of range for {c} classes (expected 0..{c - 1}).");
        var logp = Tensor.SoftmaxRows(logits, 1, log: true);
        var y = Tensor.Empty(logits.DType, [n]);
        DTypeDispatch.Run(logp, y, new CrossEntropyKernel(targets, c, labelSmoothing));
        if (Tensor.NeedsGrad(logits)) y.SetGradFn(new CrossEntropyBackward(logits, logp, (int[])targets.Clone(), labelSmoothing));
        return Reduce(y, reduction);
    }
}

// l_i = -(1 - eps) log_softmax(x)[i, t_i] - eps/C sum_j log_softmax(x)[i, j]: dx_i = dl_i (softmax(x_i) - (1 - eps) onehot(t_i) - eps/C)
internal sealed class CrossEntropyBackward(Tensor logits, Tensor logp, int[] targets, double labelSmoothing) : Node([logits], logp)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var logp = Saved(0);
        var gc = g.ContiguousRaw();
        var dx = Tensor.EmptyLike(logp);
        int c = logp.Dims[1];
        DTypeDispatch.Run(logp, gc, dx, new CrossEntropyKernel(targets, c, labelSmoothing));
        return [dx];
    }
}
