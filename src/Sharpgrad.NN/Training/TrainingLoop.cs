using System.Diagnostics;
using System.Globalization;

namespace Sharpgrad.NN;

/// <summary>
/// The training engine's two primitives for any <see cref="Module"/>: one epoch of training and an evaluation.
/// <see cref="ModuleTrainer"/> builds on them (callbacks, checkpoints, resume); a hand-written loop can call them directly.
/// Each step runs inside a <see cref="TensorScope"/>, so a warm step allocates next to nothing.
/// </summary>
public static class TrainingLoop
{
    /// <summary>
    /// One epoch of training (epoch is 0-based; <paramref name="epochs"/> is only reported): forward, cross-entropy,
    /// backward, optimizer and scheduler step per batch; an L1 penalty on the Conv2d and Linear weights is applied by
    /// its proximal step after each update (<see cref="Optimizer.ProximalL1"/>: soft-thresholding, which sets weights
    /// exactly to zero) and counted in the reported loss; stops after
    /// <paramref name="maxSteps"/> batches when given; <paramref name="lossFunction"/> replaces the cross-entropy
    /// (e.g. for distillation). With <paramref name="ema"/>, its <see cref="ExponentialMovingAverage.Update"/> runs
    /// after each step (after the L1 step). Returns the epoch's mean loss and accuracy.
    /// </summary>
    public static (double Loss, double Accuracy) TrainEpoch(Module model, DataLoader loader, Optimizer optimizer, LrScheduler? scheduler, int epoch,
        int epochs, double l1 = 0, ITrainingObserver? observer = null, int? maxSteps = null, CancellationToken cancel = default,
        Func<Tensor, Batch, Tensor>? lossFunction = null, ExponentialMovingAverage? ema = null) =>
        TrainEpochCore(model, loader, optimizer, scheduler, epoch, epochs, l1, observer, maxSteps, cancel, lossFunction,
            _ => OptionException.Escape(string.Create(CultureInfo.InvariantCulture, $"try a lower learning rate (the optimizer's Lr is {optimizer?.Lr}).")), [], ema);

    /// <summary>
    /// <see cref="TrainEpoch"/> with the end of the divergence message given by <paramref name="divergenceAdvice"/>
    /// (from the 0-based epoch): a composite-format template whose placeholders stand for <paramref name="adviceOptions"/>
    /// (<see cref="IOptionMessage"/>), so each caller names its own options and a front end renders them.
    /// </summary>
    internal static (double Loss, double Accuracy) TrainEpochCore(Module model, DataLoader loader, Optimizer optimizer, LrScheduler? scheduler, int epoch,
        int epochs, double l1, ITrainingObserver? observer, int? maxSteps, CancellationToken cancel,
        Func<Tensor, Batch, Tensor>? lossFunction, Func<int, string> divergenceAdvice, string[] adviceOptions, ExponentialMovingAverage? ema = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loader);
        ArgumentNullException.ThrowIfNull(optimizer);
        model.Train();
        int steps = Math.Min(loader.BatchCount, maxSteps ?? int.MaxValue);
        observer?.EpochStarted(epoch + 1, epochs, steps);
        var l1Weights = l1 > 0 ? model.NamedPrunableParameters().Select(p => p.Parameter).ToList() : null;
        double lossSum = 0;
        long correct = 0, seen = 0;
        int step = 0;
        var tick = Stopwatch.StartNew();
        foreach (var batch in loader.Epoch(epoch))
        {
            if (step == steps) break;
            cancel.ThrowIfCancellationRequested();
            step++;
            double l;
            int n = batch.Labels.Length;
            // the step's activations and gradients are recycled from a pool: no allocation per step once warm
            using (TensorScope.Begin())
            {
                var logits = model.Call(batch.Images);
                var loss = lossFunction?.Invoke(logits, batch) ?? Losses.CrossEntropy(logits, batch.Labels);
                l = loss.Item();
                if (l1Weights is not null) l += Regularization.L1Value(l1Weights, l1);
                if (!double.IsFinite(l))
                    throw new DivergedException(OptionException.Escape(string.Create(CultureInfo.InvariantCulture, $"training diverged: the loss is {l} at epoch {epoch + 1}, step {step}; ")) + divergenceAdvice(epoch), adviceOptions);
                optimizer.ZeroGrad();
                loss.Backward();
                optimizer.Step();
                if (l1Weights is not null) optimizer.ProximalL1(l1Weights, l1);
                ema?.Update();
                correct += CountCorrect(logits, batch.Labels);
                model.ZeroGrad(); // the gradients live in the scope's pool (frozen parameters' too)
                optimizer.ZeroGrad();
            }
            scheduler?.Step();
            lossSum += l * n;
            seen += n;
            observer?.StepCompleted(epoch + 1, step, steps, lossSum / seen, (double)correct / seen, seen / tick.Elapsed.TotalSeconds);
        }
        return (lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen));
    }

    private static int CountCorrect(Tensor logits, int[] labels)
    {
        var v = logits.ToArray();
        int k = logits.Shape[1], correct = 0;
        for (int i = 0; i < labels.Length; i++)
            if (Argmax(v.AsSpan(i * k, k)) == labels[i]) correct++;
        return correct;
    }

    // (model(x) + model(flip(x))) / 2 for images x: (N,C,H,W), flipped along W
    private static Tensor FlipAveragedLogits(Module model, Tensor images)
    {
        if (images.Rank != 4)
            throw new ArgumentException($"Evaluate: flip averaging (test-time augmentation) expects image batches (N,C,H,W), got [{string.Join(",", images.Shape)}].");
        return model.Call(images).Add(model.Call(images.Flip(3))).Mul(0.5);
    }

    // index of the first largest logit
    private static int Argmax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int j = 1; j < row.Length; j++) if (row[j] > row[best]) best = j;
        return best;
    }

    /// <summary>Mean cross-entropy, accuracy and confusion matrix of <paramref name="model"/> in evaluation mode.</summary>
    /// <param name="model">The model; put in evaluation mode for the call, its mode restored after.</param>
    /// <param name="loader">The examples, in its order (epoch 0).</param>
    /// <param name="classes">Number of classes: the logits' width.</param>
    /// <param name="flipAverage">Test-time augmentation: the logits are the mean of the model's logits for each image
    /// (N,C,H,W) and for its horizontal mirror (as airbench's and hlb-cifar10's evaluation); the loss is the
    /// cross-entropy of the mean logits.</param>
    /// <exception cref="ArgumentException"><paramref name="flipAverage"/> with examples that are not images
    /// (N,C,H,W).</exception>
    public static Evaluation Evaluate(Module model, DataLoader loader, int classes, bool flipAverage = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loader);
        bool training = model.Training;
        model.Eval();
        try
        {
            using var _ = Tensor.NoGrad();
            var confusion = new int[classes, classes];
            double lossSum = 0;
            long correct = 0, seen = 0;
            foreach (var batch in loader.Epoch(0))
            {
                using var scope = TensorScope.Begin();
                var logits = flipAverage ? FlipAveragedLogits(model, batch.Images) : model.Call(batch.Images);
                lossSum += Losses.CrossEntropy(logits, batch.Labels, Reduction.Sum).Item();
                var v = logits.ToArray();
                for (int i = 0; i < batch.Labels.Length; i++)
                {
                    int best = Argmax(v.AsSpan(i * classes, classes));
                    confusion[batch.Labels[i], best]++;
                    if (best == batch.Labels[i]) correct++;
                }
                seen += batch.Labels.Length;
            }
            return new Evaluation(lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen), confusion);
        }
        finally
        {
            model.Train(training);
        }
    }
}
