
namespace Sharpgrad.NN;

/// <summary>
/// How <see cref="ModuleTrainer"/> trains a model. Every property is checked when the trainer is created
/// (<see cref="Validate"/>); an error names the property, e.g. "ModuleTrainerOptions.Epochs: expected a positive
/// number, got 0.".
/// </summary>
public sealed record ModuleTrainerOptions
{
    /// <summary>Total epochs (when resuming from a checkpoint: the new total). Default 10.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Training examples per batch. Default 64.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Examples per batch when evaluating (no gradients, so larger batches are cheap). Default 500.</summary>
    public int EvaluationBatchSize { get; init; } = 500;

    /// <summary>
    /// Learning rate of the default optimizer, AdamW (the starting rate a <see cref="Schedule"/> scales). Ignored
    /// when <see cref="Optimizer"/> builds the optimizer. Default 0.001.
    /// </summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Decoupled weight decay of the default optimizer, AdamW. Ignored when <see cref="Optimizer"/> is set. Default 0.01.</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>
    /// Builds the optimizer from the model's parameters (e.g. <c>ps =&gt; new Sgd(ps, 0.05, momentum: 0.9)</c>);
    /// null: AdamW with <see cref="LearningRate"/> and <see cref="WeightDecay"/>.
    /// </summary>
    public Func<IEnumerable<Parameter>, Optimizer>? Optimizer { get; init; }

    /// <summary>
    /// Builds the learning-rate schedule from the optimizer and the total number of training steps (epochs times
    /// batches per epoch), e.g. <c>(opt, steps) =&gt; new OneCycleLr(opt, 0.01, steps)</c>; it is stepped after
    /// every batch. Null: a constant rate.
    /// </summary>
    public Func<Optimizer, int, LrScheduler>? Schedule { get; init; }

    /// <summary>
    /// L1 penalty strength on the Conv2d and Linear weights, applied by its proximal step after every update
    /// (<see cref="Sharpgrad.NN.Optimizer.ProximalL1"/>) and counted in the reported loss. Default 0.
    /// </summary>
    public double L1 { get; init; }

    /// <summary>
    /// The training loss from the model's output (B, classes) and the batch; null: mean cross-entropy against the
    /// labels. Evaluation always reports cross-entropy.
    /// </summary>
    public Func<Tensor, Batch, Tensor>? Loss { get; init; }

    /// <summary>Whether each epoch visits the training examples in a new seeded order. Default true.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Whether a last, smaller training batch is dropped. Default false.</summary>
    public bool DropLast { get; init; }

    /// <summary>Per-example transforms of the training examples (augmentation, <see cref="Normalize"/>); (C, H, W) examples only.</summary>
    public IReadOnlyList<ITransform> TrainTransforms { get; init; } = [];

    /// <summary>Per-example transforms of the validation examples (typically the same <see cref="Normalize"/> only).</summary>
    public IReadOnlyList<ITransform> EvaluationTransforms { get; init; } = [];

    /// <summary>Seed of shuffling and augmentation, and of the generator a model factory is given. Default 0.</summary>
    public ulong Seed { get; init; }

    /// <summary>
    /// Kernel threads while training (a <see cref="Parallelism.UseThreads"/> scope; other threads are not
    /// affected). Default: the processor count.
    /// </summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// When set, a resume checkpoint (weights, optimizer state, epoch, generator state and metrics, see
    /// <see cref="ModuleTrainer.SaveCheckpoint"/>) is written atomically to this file after every epoch.
    /// </summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Checks every property.</summary>
    /// <exception cref="ArgumentException">One line naming the property and what was expected.</exception>
    public void Validate()
    {
        const string P = nameof(ModuleTrainerOptions) + ".";
        if (Epochs < 1) throw new ArgumentException($"{P}{nameof(Epochs)}: expected a positive number of epochs, got {Epochs}.");
        if (BatchSize < 1) throw new ArgumentException($"{P}{nameof(BatchSize)}: expected a positive number of examples per batch, got {BatchSize}.");
        if (EvaluationBatchSize < 1) throw new ArgumentException($"{P}{nameof(EvaluationBatchSize)}: expected a positive number of examples per batch, got {EvaluationBatchSize}.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentException($"{P}{nameof(LearningRate)}: expected a positive finite number, got {LearningRate}.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentException($"{P}{nameof(WeightDecay)}: expected a non-negative finite number, got {WeightDecay}.");
        if (!(L1 >= 0) || double.IsInfinity(L1)) throw new ArgumentException($"{P}{nameof(L1)}: expected a non-negative finite number, got {L1}.");
        if (Threads < 1) throw new ArgumentException($"{P}{nameof(Threads)}: expected a positive number of threads, got {Threads}.");
        if (TrainTransforms is null) throw new ArgumentException($"{P}{nameof(TrainTransforms)}: expected a list (empty for none), got null.");
        if (EvaluationTransforms is null) throw new ArgumentException($"{P}{nameof(EvaluationTransforms)}: expected a list (empty for none), got null.");
        if (CheckpointPath is { Length: 0 }) throw new ArgumentException($"{P}{nameof(CheckpointPath)}: expected a file path or null, got an empty string.");
        if (CheckpointPath is not null && Directory.Exists(CheckpointPath)) throw new ArgumentException($"{P}{nameof(CheckpointPath)}: {CheckpointPath} is a folder; expected a file path.");
    }
}
