using System.Globalization;
using System.Text.Json.Nodes;

namespace Sharpgrad.NN;

/// <summary>
/// Sees a <see cref="ModuleTrainer.Fit"/> run: when it starts, every training step, every evaluated epoch and the
/// end. Every method has an empty default, so a callback implements only what it needs; one may end training after
/// the current epoch with <see cref="TrainingState.Stop"/>.
/// </summary>
public interface ITrainingCallback
{
    /// <summary>Training starts (before the first epoch to run); a callback checks here that it can work, e.g. that the metric it monitors exists.</summary>
    void TrainingStarted(TrainingState state) { }

    /// <summary>An epoch begins (<see cref="TrainingState.Epoch"/> is its 1-based number) with <paramref name="steps"/> batches.</summary>
    void EpochStarted(TrainingState state, int steps) { }

    /// <summary>A training step ended. Called on the training thread; keep it cheap (it runs between steps).</summary>
    void StepCompleted(TrainingState state, StepProgress progress) { }

    /// <summary>An epoch ended and was evaluated; <paramref name="metrics"/> is also the last entry of <see cref="TrainingState.Metrics"/>.</summary>
    void EpochCompleted(TrainingState state, EpochMetrics metrics) { }

    /// <summary>Training ended: every epoch ran, or a callback stopped it (not called when an exception ends it).</summary>
    void TrainingEnded(TrainingState state) { }
}

/// <summary>One training step's progress; loss and accuracy are running means over the epoch so far.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Step">1-based step in the epoch.</param>
/// <param name="Steps">Steps in the epoch.</param>
/// <param name="Loss">Mean training loss over the epoch's steps so far (the L1 penalty included).</param>
/// <param name="Accuracy">Fraction of the epoch's examples so far whose largest output is their label.</param>
/// <param name="ExamplesPerSecond">Training throughput over the epoch so far.</param>
public sealed record StepProgress(int Epoch, int Step, int Steps, double Loss, double Accuracy, double ExamplesPerSecond);

/// <summary>What callbacks see of a running <see cref="ModuleTrainer"/>, and how they stop it.</summary>
public sealed class TrainingState
{
    internal TrainingState(ModuleTrainer trainer) => Trainer = trainer;

    /// <summary>The trainer (its model, optimizer, scheduler, loaders).</summary>
    public ModuleTrainer Trainer { get; }

    /// <summary>The model being trained.</summary>
    public Module Model => Trainer.Model;

    /// <summary>The current (or last finished) epoch, 1-based; 0 before the first.</summary>
    public int Epoch { get; internal set; }

    /// <summary>The total number of epochs (<see cref="ModuleTrainerOptions.Epochs"/>).</summary>
    public int Epochs => Trainer.Options.Epochs;

    /// <summary>Every finished epoch's metrics (those of a resumed run included).</summary>
    public IReadOnlyList<EpochMetrics> Metrics => Trainer.Metrics;

    /// <summary>Whether a callback asked training to end after the current epoch.</summary>
    public bool StopRequested => StopReason is not null;

    /// <summary>Why training was stopped, or null.</summary>
    public string? StopReason { get; private set; }

    /// <summary>Ends training after the current epoch (its metrics and checkpoint are still recorded); the first reason given is kept.</summary>
    public void Stop(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        StopReason ??= reason;
    }
}

/// <summary>An epoch metric a callback can monitor; losses improve downwards, accuracies upwards.</summary>
public enum TrainingMetric
{
    /// <summary>Cross-entropy on the validation set (<see cref="EpochMetrics.TestLoss"/>).</summary>
    ValidationLoss,

    /// <summary>Accuracy on the validation set (<see cref="EpochMetrics.TestAccuracy"/>).</summary>
    ValidationAccuracy,

    /// <summary>Mean training loss of the epoch (<see cref="EpochMetrics.TrainLoss"/>).</summary>
    TrainLoss,

    /// <summary>Training accuracy of the epoch (<see cref="EpochMetrics.TrainAccuracy"/>).</summary>
    TrainAccuracy,
}

/// <summary>Reads a <see cref="TrainingMetric"/>.</summary>
public static class TrainingMetrics
{
    /// <summary>The metric's value in <paramref name="m"/>.</summary>
    public static double Value(this TrainingMetric metric, EpochMetrics m)
    {
        ArgumentNullException.ThrowIfNull(m);
        return metric switch
        {
            TrainingMetric.ValidationLoss => m.TestLoss,
            TrainingMetric.ValidationAccuracy => m.TestAccuracy,
            TrainingMetric.TrainLoss => m.TrainLoss,
            TrainingMetric.TrainAccuracy => m.TrainAccuracy,
            _ => throw new ArgumentOutOfRangeException(nameof(metric), $"TrainingMetric: unknown value {metric}."),
        };
    }

    /// <summary>Whether lower values are better (losses).</summary>
    public static bool LowerIsBetter(this TrainingMetric metric) => metric is TrainingMetric.ValidationLoss or TrainingMetric.TrainLoss;

    /// <summary>Whether the metric needs a validation set.</summary>
    public static bool NeedsValidation(this TrainingMetric metric) => metric is TrainingMetric.ValidationLoss or TrainingMetric.ValidationAccuracy;

    /// <summary>
    /// The index in <paramref name="history"/> of the best value: the first epoch that improved on every earlier one
    /// by more than <paramref name="minDelta"/>, NaN and infinities never counting; -1 when none is finite.
    /// </summary>
    public static int BestIndex(this TrainingMetric metric, IReadOnlyList<EpochMetrics> history, double minDelta = 0)
    {
        ArgumentNullException.ThrowIfNull(history);
        int best = -1;
        double bestValue = double.NaN;
        bool lower = metric.LowerIsBetter();
        for (int i = 0; i < history.Count; i++)
        {
            double v = metric.Value(history[i]);
            if (!double.IsFinite(v)) continue;
            if (best < 0 || (lower ? v < bestValue - minDelta : v > bestValue + minDelta))
            {
                best = i;
                bestValue = v;
            }
        }
        return best;
    }

    internal static void RequireValidation(TrainingMetric metric, TrainingState state, string who)
    {
        if (metric.NeedsValidation() && state.Trainer.ValidationLoader is null)
            throw new ArgumentException($"{who}: monitors {metric} but the trainer has no validation set; pass one to ModuleTrainer or monitor {(metric == TrainingMetric.ValidationLoss ? nameof(TrainingMetric.TrainLoss) : nameof(TrainingMetric.TrainAccuracy))}.");
    }
}

/// <summary>
/// Stops training when the monitored metric has not improved (by more than <see cref="MinDelta"/>) for
/// <see cref="Patience"/> epochs. It reads the trainer's metric history, so it keeps working across a resume.
/// </summary>
public sealed class EarlyStopping : ITrainingCallback
{
    /// <summary>Creates the callback.</summary>
    /// <param name="monitor">The metric watched (default: validation loss).</param>
    /// <param name="patience">Epochs without improvement before stopping (positive).</param>
    /// <param name="minDelta">The smallest change that counts as an improvement (non-negative, in the metric's units).</param>
    /// <exception cref="ArgumentOutOfRangeException">Patience below 1 or a negative or NaN minDelta.</exception>
    public EarlyStopping(TrainingMetric monitor = TrainingMetric.ValidationLoss, int patience = 3, double minDelta = 0)
    {
        if (patience < 1) throw new ArgumentOutOfRangeException(nameof(patience), $"EarlyStopping: patience must be a positive number of epochs, got {patience}.");
        if (!(minDelta >= 0)) throw new ArgumentOutOfRangeException(nameof(minDelta), $"EarlyStopping: minDelta must be non-negative, got {minDelta}.");
        Monitor = monitor;
        Patience = patience;
        MinDelta = minDelta;
    }

    /// <summary>The metric watched.</summary>
    public TrainingMetric Monitor { get; }

    /// <summary>Epochs without improvement before stopping.</summary>
    public int Patience { get; }

    /// <summary>The smallest change that counts as an improvement.</summary>
    public double MinDelta { get; }

    /// <summary>The epoch (1-based) after which this callback stopped training, or null.</summary>
    public int? StoppedAfterEpoch { get; private set; }

    /// <inheritdoc/>
    public void TrainingStarted(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        TrainingMetrics.RequireValidation(Monitor, state, nameof(EarlyStopping));
    }

    /// <inheritdoc/>
    public void EpochCompleted(TrainingState state, EpochMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(state);
        var history = state.Metrics;
        int best = Monitor.BestIndex(history, MinDelta);
        int since = history.Count - 1 - best;
        if (best >= 0 && since >= Patience)
        {
            StoppedAfterEpoch = state.Epoch;
            state.Stop(string.Create(CultureInfo.InvariantCulture,
                $"early stopping: {Monitor} has not improved for {since} epochs (best {Monitor.Value(history[best]):G6} at epoch {history[best].Epoch})"));
        }
    }
}

/// <summary>
/// Writes the model's weights (its state dict, safetensors with PyTorch's names) to <see cref="Path"/> whenever the
/// monitored metric reaches a new best; <see cref="Restore"/> loads them back into a model.
/// </summary>
public sealed class BestCheckpoint : ITrainingCallback
{
    /// <summary>Creates the callback.</summary>
    /// <param name="path">The safetensors file to write (replaced atomically at each new best).</param>
    /// <param name="monitor">The metric that decides what is best (default: validation loss).</param>
    public BestCheckpoint(string path, TrainingMetric monitor = TrainingMetric.ValidationLoss)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Path = path;
        Monitor = monitor;
    }

    /// <summary>The weights file.</summary>
    public string Path { get; }

    /// <summary>The metric that decides what is best.</summary>
    public TrainingMetric Monitor { get; }

    /// <summary>The best epoch so far (1-based), or null before the first finite value.</summary>
    public int? BestEpoch { get; private set; }

    /// <summary>The monitored metric at <see cref="BestEpoch"/> (NaN before).</summary>
    public double BestValue { get; private set; } = double.NaN;

    /// <summary>That epoch's metrics, or null.</summary>
    public EpochMetrics? BestMetrics { get; private set; }

    /// <inheritdoc/>
    public void TrainingStarted(TrainingState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        TrainingMetrics.RequireValidation(Monitor, state, nameof(BestCheckpoint));
        if (Directory.Exists(Path)) throw new ArgumentException($"{nameof(BestCheckpoint)}: {Path} is a folder; expected a file path.");
    }

    /// <inheritdoc/>
    public void EpochCompleted(TrainingState state, EpochMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(metrics);
        var history = state.Metrics;
        int best = Monitor.BestIndex(history);
        if (best < 0) return;
        bool improved = best == history.Count - 1 && !(BestEpoch == history[best].Epoch);
        BestMetrics = history[best];
        BestEpoch = history[best].Epoch;
        BestValue = Monitor.Value(history[best]);
        if (!improved) return;
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var meta = new JsonObject { ["epoch"] = BestEpoch, ["monitor"] = Monitor.ToString(), ["value"] = BestValue };
        SafeTensors.Write(Path, state.Model.StateDict(), new Dictionary<string, string> { ["format"] = "pt", ["sharpgrad"] = meta.ToJsonString() });
    }

    /// <summary>Loads the best weights written so far into <paramref name="model"/> (the same architecture).</summary>
    /// <exception cref="FileNotFoundException">No best checkpoint was written yet.</exception>
    /// <exception cref="ArgumentException">The weights do not fit the model (one line naming the tensor).</exception>
    public void Restore(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!File.Exists(Path)) throw new FileNotFoundException($"{nameof(BestCheckpoint)}: {Path} does not exist yet (it is written at the first epoch with a finite {Monitor}).", Path);
        model.LoadStateDict(SafeTensors.Read(Path).Tensors);
    }
}

/// <summary>Writes the epoch metrics as CSV (the columns of metrics.csv; test_* are the validation set's) after every epoch.</summary>
/// <param name="path">The CSV file (replaced atomically each epoch).</param>
public sealed class CsvLogger(string path) : ITrainingCallback
{
    /// <summary>The CSV file.</summary>
    public string Path { get; } = string.IsNullOrEmpty(path) ? throw new ArgumentException("CsvLogger: expected a file path.", nameof(path)) : path;

    /// <inheritdoc/>
    public void EpochCompleted(TrainingState state, EpochMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(state);
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.WriteText(Path, EpochMetrics.Csv(state.Metrics));
    }
}

/// <summary>
/// Reports progress: as text lines (every epoch, and every <c>everySteps</c> steps when positive), or to an
/// <see cref="ITrainingObserver"/> (the command line's progress bar).
/// </summary>
public sealed class ProgressCallback : ITrainingCallback
{
    private readonly Action<string>? _write;
    private readonly int _everySteps;
    private readonly ITrainingObserver? _observer;

    /// <summary>Writes one line per epoch, and one every <paramref name="everySteps"/> steps when positive (e.g. <c>Console.WriteLine</c>).</summary>
    public ProgressCallback(Action<string> write, int everySteps = 0)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (everySteps < 0) throw new ArgumentOutOfRangeException(nameof(everySteps), $"ProgressCallback: everySteps must be non-negative, got {everySteps}.");
        _write = write;
        _everySteps = everySteps;
    }

    /// <summary>Forwards every epoch start, step and epoch end to <paramref name="observer"/>.</summary>
    public ProgressCallback(ITrainingObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        _observer = observer;
    }

    /// <inheritdoc/>
    public void EpochStarted(TrainingState state, int steps)
    {
        ArgumentNullException.ThrowIfNull(state);
        _observer?.EpochStarted(state.Epoch, state.Epochs, steps);
    }

    /// <inheritdoc/>
    public void StepCompleted(TrainingState state, StepProgress progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        _observer?.StepCompleted(progress.Epoch, progress.Step, progress.Steps, progress.Loss, progress.Accuracy, progress.ExamplesPerSecond);
        if (_write is not null && _everySteps > 0 && (progress.Step % _everySteps == 0 || progress.Step == progress.Steps))
            _write(string.Create(CultureInfo.InvariantCulture,
                $"epoch {progress.Epoch} step {progress.Step}/{progress.Steps}: loss {progress.Loss:F4}, accuracy {progress.Accuracy:P2}, {progress.ExamplesPerSecond:N0} examples/s"));
    }

    /// <inheritdoc/>
    public void EpochCompleted(TrainingState state, EpochMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(metrics);
        _observer?.EpochCompleted(metrics);
        if (_write is null) return;
        var validation = double.IsNaN(metrics.TestLoss) ? "" : string.Create(CultureInfo.InvariantCulture, $", validation loss {metrics.TestLoss:F4} accuracy {metrics.TestAccuracy:P2}");
        _write(string.Create(CultureInfo.InvariantCulture,
            $"epoch {metrics.Epoch}/{state.Epochs}: train loss {metrics.TrainLoss:F4} accuracy {metrics.TrainAccuracy:P2}{validation}, {metrics.Seconds:F1} s, lr {metrics.Lr:G4}"));
    }
}
