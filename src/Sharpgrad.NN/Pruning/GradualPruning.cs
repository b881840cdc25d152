
namespace Sharpgrad.NN;

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

    /// <summary>One threshold across layers on layer-normalized (LAMP) scores.</summary>
    Lamp,

    /// <summary>One threshold across layers on second-order saliency w^2 E[g^2] (Optimal Brain Damage with the empirical Fisher).</summary>
    Obd,
}

/// <summary>
/// Gradual prune-then-fine-tune: the sparsity rises over <c>steps</c> steps on a cubic schedule
/// s_t = s (1 - (1 - t/steps)^3) (Zhu and Gupta), with an equal share of the fine-tuning batches after each step.
/// </summary>
public static class GradualPruning
{
    /// <summary>The sparsity after step <paramref name="t"/> of <paramref name="steps"/>.</summary>
    public static double CubicSchedule(double target, int t, int steps) => target * (1 - Math.Pow(1 - (double)t / steps, 3));

    /// <summary>
    /// Applies one pruning at <paramref name="sparsity"/> with <paramref name="method"/>; the OBD method estimates
    /// gradients on <paramref name="saliencyBatches"/> batches of <paramref name="data"/> (epoch <paramref name="saliencyEpoch"/> of its shuffle).
    /// </summary>
    public static void PruneTo(Module model, PruneMethod method, double sparsity, SensitivityResult? sensitivity = null, Generator? random = null,
        DataLoader? data = null, int saliencyBatches = 32, int saliencyEpoch = 0)
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
                foreach (var (_, m) in model.NamedModules())
                {
                    var filters = m.PrunableFilters().ToList();
                    if (filters.Count > 0)
                        foreach (var (weight, bias) in filters) Pruner.Filters(weight, bias, sparsity);
                    else
                        foreach (var (_, p) in m.PrunableParameters()) Pruner.Magnitude(p, sparsity);
                }
                break;
            case PruneMethod.Lamp:
                Pruner.Lamp(weights.Select(w => w.Parameter).ToList(), sparsity);
                break;
            case PruneMethod.Obd:
                var ps = weights.Select(w => w.Parameter).ToList();
                var scores = Saliency.Obd(model, ps, data ?? throw new ArgumentException("PruneTo: the OBD method needs data to estimate gradients on."), saliencyBatches, saliencyEpoch);
                Pruner.GlobalByScore(ps, scores, sparsity);
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
    /// Prunes to <paramref name="target"/> in <paramref name="steps"/> cubic steps spread over the first
    /// <paramref name="pruneWindow"/> of the fine-tuning batches, then fine-tunes at the target for the rest;
    /// <paramref name="finetuneEpochs"/> epochs in all, with AdamW at <paramref name="lr"/> on a cosine schedule.
    /// The masks stay on the model.
    /// </summary>
    public static void Run(Module model, DataLoader train, PruneMethod method, double target, int steps, double finetuneEpochs, double lr,
        SensitivityResult? sensitivity = null, ITrainingObserver? observer = null, Generator? random = null, double pruneWindow = 0.5,
        Module? teacher = null, double temperature = 4, double distillWeight = 0.5)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), $"GradualPruning: steps must be positive, got {steps}.");
        if (!(finetuneEpochs >= 0)) throw new ArgumentOutOfRangeException(nameof(finetuneEpochs), $"GradualPruning: finetuneEpochs must be non-negative, got {finetuneEpochs}.");
        if (!(pruneWindow >= 0 && pruneWindow <= 1)) throw new ArgumentOutOfRangeException(nameof(pruneWindow), $"GradualPruning: prune window must be in [0, 1], got {pruneWindow}.");
        int total = (int)Math.Round(finetuneEpochs * train.BatchCount);
        var opt = new AdamW(model.Parameters(), lr, weightDecay: 0);
        var sched = total >= 1 ? new CosineAnnealingLr(opt, total) : null;
        // batch index at which step t (1-based) prunes: 0 for the first, pruneWindow * total for the last
        int At(int t) => steps == 1 ? 0 : (int)Math.Round(total * pruneWindow * (t - 1) / (steps - 1));
        Func<Tensor, Batch, Tensor>? loss = teacher is null ? null : (logits, batch) => Distillation(logits, batch, teacher, temperature, distillWeight);
        teacher?.Eval();
        int epoch = 0;
        for (int t = 1; t <= steps; t++)
        {
            PruneTo(model, method, CubicSchedule(target, t, steps), sensitivity, random, train, saliencyEpoch: 1_000_000 + t);
            int share = (t < steps ? At(t + 1) : total) - At(t);
            while (share > 0)
            {
                int n = Math.Min(share, train.BatchCount);
                TrainingLoop.TrainEpoch(model, train, opt, sched, epoch++, 0, observer: observer, maxSteps: n, lossFunction: loss);
                share -= n;
            }
        }
    }

    /// <summary>
    /// Knowledge distillation from the unpruned model (Hinton et al.): (1 - w) CE(student, labels) +
    /// w T^2 KL(softmax(teacher / T) || softmax(student / T)).
    /// </summary>
    public static Tensor Distillation(Tensor studentLogits, Batch batch, Module teacher, double temperature, double weight)
    {
        ArgumentNullException.ThrowIfNull(studentLogits);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(teacher);
        Tensor soft;
        double entropyTerm;
        int n = batch.Labels.Length;
        using (Tensor.NoGrad())
        {
            var logSoft = teacher.Forward(batch.Images).Div(temperature).LogSoftmax(1);
            soft = logSoft.Exp();
            entropyTerm = soft.Mul(logSoft).Sum().Item(); // sum p log p: makes the value a true KL (no gradient)
        }
        var kd = studentLogits.Div(temperature).LogSoftmax(1).Mul(soft).Sum().Neg().Add(entropyTerm).Mul(temperature * temperature / n);
        return Losses.CrossEntropy(studentLogits, batch.Labels).Mul(1 - weight).Add(kd.Mul(weight));
    }
}
