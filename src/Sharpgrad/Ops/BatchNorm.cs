using System.Numerics;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Batch normalization, as torch.nn.functional.batch_norm. x: (N,C), (N,C,L) or (N,C,H,W); statistics per
    /// channel (dimension 1). In training the batch mean and biased variance normalize, and the running statistics
    /// (updated in place, if given) move by <paramref name="momentum"/> toward the batch mean and the unbiased
    /// variance; in evaluation the running statistics normalize. weight (gamma) and bias (beta) are (C) or null.
    /// </summary>
    public static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum = 0.1, double eps = 1e-5) =>
        BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps, relu: false);

    // BatchNorm, or with relu BatchNormRelu (max(y, 0) as y is stored; see there): one forward, one backward node
    private static Tensor BatchNorm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum, double eps, bool relu)
    {
        string op = relu ? "BatchNormRelu" : "BatchNorm";
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 2) throw new ArgumentException($"{op}: expected input of shape (N,C,...), got {Shapes.Format(input.Dims)}.");
        int n = input.Dims[0], c = input.Dims[1], s = input.NumElements / Math.Max(1, n * c);
        foreach (var (t, name) in new[] { (runningMean, "running mean"), (runningVar, "running variance"), (weight, "weight"), (bias, "bias") })
        {
            if (t is null) continue;
            if (t.DType != input.DType)
                throw new ArgumentException($"{op}: expected {name} of dtype {input.DType.Name()} (the input's), got {t.DType.Name()} (input {Shapes.Format(input.Dims)}); convert one with To(DType).");
            if (t.Rank != 1 || t.Dims[0] != c)
                throw new ArgumentException($"{op}: expected {name} of shape [{c}], got {Shapes.Format(t.Dims)} (input {Shapes.Format(input.Dims)}).");
        }
        if (!training && (runningMean is null || runningVar is null))
            throw new InvalidOperationException($"{op}: evaluation mode needs running mean and variance.");
        if (training && (long)n * s <= 1)
            throw new ArgumentException($"{op}: expected more than 1 value per channel when training, got input {Shapes.Format(input.Dims)}.");
        if (!(eps > 0) || double.IsPositiveInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), $"{op}: eps must be positive and finite, got {eps}.");

        var x = input.ContiguousRaw();
        var mean = new double[c];
        var invstd = new double[c];
        if (training)
        {
            var var = new double[c];
            Parallelism.ForBalanced(c, (_, c0, c1) =>
            {
                if (input.DType == DType.Float32) BatchNormKernels.Statistics(x.Span<float>(), n, c, s, mean, var, c0, c1);
                else BatchNormKernels.Statistics(x.Span<double>(), n, c, s, mean, var, c0, c1);
            }, x.NumElements);
            double count = (double)n * s;
            for (int ch = 0; ch < c; ch++)
            {
                invstd[ch] = 1 / Math.Sqrt(var[ch] + eps);
                if (runningMean is not null) runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean[ch];
                if (runningVar is not null) runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * var[ch] * count / (count - 1);
            }
        }
        else
        {
            for (int ch = 0; ch < c; ch++)
            {
                mean[ch] = runningMean![ch];
                invstd[ch] = 1 / Math.Sqrt(runningVar![ch] + eps);
            }
        }
        var y = EmptyLike(input);
        var gamma = weight?.ContiguousRaw();
        var beta = bias?.ContiguousRaw();
        if (input.DType == DType.Float32) Run<float>(x, gamma, beta, y, n, c, s, mean, invstd, relu);
        else Run<double>(x, gamma, beta, y, n, c, s, mean, invstd, relu);
        if (GradMode.IsEnabled && (input.RequiresGrad || weight?.RequiresGrad == true || bias?.RequiresGrad == true))
        {
            // the fused backward recomputes the ReLU's mask with beta as it is now: a copy (C values), so that a later
            // write to the bias changes nothing, as with the unfused pair (whose ReLU keeps its output)
            Tensor? betaNow = null;
            if (relu && beta is not null)
            {
                betaNow = EmptyLike(beta);
                if (beta.DType == DType.Float32) beta.Span<float>().CopyTo(betaNow.Span<float>());
                else beta.Span<double>().CopyTo(betaNow.Span<double>());
            }
            y.SetGradFn(new BatchNormBackward(input, weight, bias, x, mean, invstd, training, relu, betaNow));
        }
        return y;
    }

    private static void Run<T>(Tensor x, Tensor? gamma, Tensor? beta, Tensor y, int n, int c, int s, double[] mean, double[] invstd, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Parallelism.ForBalanced(c, (_, c0, c1) => BatchNormKernels.Normalize<T>(x.Span<T>(), n, c, s, mean, invstd,
            gamma is null ? default : gamma.Span<T>(), beta is null ? default : beta.Span<T>(), y.Span<T>(), c0, c1, relu), x.NumElements);
}

// y = (x - mean) invstd gamma + beta. Training: dx = gamma invstd (dy - mean(dy) - xhat mean(dy xhat));
// evaluation: dx = gamma invstd dy. Both: dgamma = sum(dy xhat), dbeta = sum(dy), over (N, S).
// Fused with a ReLU (BatchNormRelu): dy first zeroed where y <= 0, y recomputed from x, gamma (saved, as for the
// norm's own backward) and beta as the forward read it (copied there; null without a bias).
internal sealed class BatchNormBackward(Tensor input, Tensor? weight, Tensor? bias, Tensor x, double[] mean, double[] invstd, bool training, bool relu,
    Tensor? reluBeta = null)
    : Node([input, weight, bias], x, weight)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var x = Saved(0);
        int n = x.Dims[0], c = x.Dims[1], s = x.NumElements / Math.Max(1, n * c);
        var dy = g.ContiguousRaw();
        Tensor? dx = NeedsInputGrad(0) ? Tensor.EmptyLike(x) : null;
        Tensor? dgamma = NeedsInputGrad(1) ? Tensor.Empty(x.DType, [c]) : null;
        Tensor? dbeta = NeedsInputGrad(2) ? Tensor.Empty(x.DType, [c]) : null;
        if (x.DType == DType.Float32) Run<float>(dy, x, dx, dgamma, dbeta, n, c, s);
        else Run<double>(dy, x, dx, dgamma, dbeta, n, c, s);
        return [dx, dgamma, dbeta];
    }

    private void Run<T>(Tensor dy, Tensor x, Tensor? dx, Tensor? dgamma, Tensor? dbeta, int n, int c, int s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var gamma = Inputs[1] is null ? null : Saved(1).ContiguousRaw();
        var beta = relu ? reluBeta : null;
        Parallelism.ForBalanced(c, (_, c0, c1) => BatchNormKernels.Backward<T>(dy.Span<T>(), x.Span<T>(), n, c, s, mean, invstd,
            gamma is null ? default : gamma.Span<T>(), training,
            dx is null ? default : dx.Span<T>(), dgamma is null ? default : dgamma.Span<T>(), dbeta is null ? default : dbeta.Span<T>(), c0, c1,
            relu, beta is null ? default : beta.Span<T>()), x.NumElements);
    }
}
