using Sharpgrad.NN.Data;
using Sharpgrad.NN.Training;

namespace Sharpgrad.NN.Pruning;

/// <summary>Which weights a pruning step removes.</summary>
public enum PruneMethod
{
    /// <summary>Each layer to the same sparsity, smallest |w| first.</summary>
    Magnitude,

    /// <summary>One |w| threshold across all prunable layers.</summary>
    Global,

    /// <summary>Per-layer rates chosen from a sensitivity sweep (sensitive layers pruned least).</summary>
    Sensitivity,

    /// <summary>Whole convolution filters by L1 norm (the FC layer by magnitude).</summary>
    Structured,

    /// <summary>Random weights, the baseline.</summary>
    Random,
}

/// <summary>
/// Gradual prune-then-fine-tune: the sparsity rises over <c>steps</c> steps on a cubic schedule
/// s_t = s (1 - (1 - t/steps)^3) (Zhu and Gupta), with an equal share of the fine-tuning batches after each step.
/// </summary>
public static class GradualPruning
{
    /// <summary>The sparsity after step <paramref name="t"/> of <paramref name="steps"/>.</summary>
    public static double CubicSchedule(double target, int t, int steps) => target * (1 - Math.Pow(1 - (double)t / steps, 3));

    /// <summary>Applies one pruning at <paramref name="sparsity"/> with <paramref name="method"/>.</summary>
    public static void PruneTo(Module model, PruneMethod method, double sparsity, SensitivityResult? sensitivity = null, Generator? random = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var weights = Pruner.PrunableWeights(model);
        switch (method)
        {
            case PruneMethod.Magnitude:
                foreach (var (_, p) in weights) Pruner.Magnitude(p, sparsity);
                break;
            case PruneMethod.Global:
                Pruner.Global(weights.Select(w => w.Parameter).ToList(), sparsity);
                break;
            case PruneMethod.Sensitivity:
                var rates = (sensitivity ?? throw new ArgumentException("PruneTo: the sensitivity method needs a sweep.")).ChooseRates(sparsity);
                foreach (var (name, p) in weights) Pruner.Magnitude(p, rates[name]);
                break;
            case PruneMethod.Structured:
                foreach (var (name, m) in model.NamedModules())
                {
                    if (m is Conv2d c) Pruner.Filters(c, sparsity);
                    else if (m is Linear l) Pruner.Magnitude(l.Weight, sparsity);
                }
                break;
            case PruneMethod.Random:
                var g = random ?? new Generator(0);
                foreach (var (_, p) in weights) Pruner.Random(p, sparsity, g);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(method), $"PruneTo: unknown method {method}.");
        }
    }

    /// <summary>
    /// Prunes to <paramref name="target"/> in <paramref name="steps"/> cubic steps, fine-tuning
    /// <paramref name="finetuneEpochs"/> epochs in all (split evenly between the steps) with AdamW at
    /// <paramref name="lr"/> on a cosine schedule; the masks stay on the model.
    /// </summary>
    public static void Run(Module model, DataLoader train, PruneMethod method, double target, int steps, double finetuneEpochs, double lr,
        SensitivityResult? sensitivity = null, ITrainingObserver? observer = null, Generator? random = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"--steps: expected a positive number, got {steps}.");
        if (!(finetuneEpochs >= 0)) throw new ArgumentOutOfRangeException(nameof(finetuneEpochs), $"--finetune-epochs: expected a non-negative number, got {finetuneEpochs}.");
        int totalBatches = (int)Math.Round(finetuneEpochs * train.BatchCount);
        var opt = new AdamW(model.Parameters(), lr, weightDecay: 0);
        var sched = totalBatches >= 1 ? new CosineAnnealingLr(opt, totalBatches) : null;
        int done = 0, epoch = 0;
        for (int t = 1; t <= steps; t++)
        {
            PruneTo(model, method, CubicSchedule(target, t, steps), sensitivity, random);
            int share = totalBatches * t / steps - totalBatches * (t - 1) / steps;
            while (share > 0)
            {
                int n = Math.Min(share, train.BatchCount);
                Trainer.TrainEpoch(model, train, opt, sched, epoch++, 0, observer: observer, maxSteps: n);
                share -= n;
                done += n;
            }
        }
    }
}
