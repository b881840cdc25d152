using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sharpgrad.NN;

/// <summary>
/// Trains any classification <see cref="Module"/> (its output (B, classes) scores the labels) on an
/// <see cref="ILabeledDataset"/>: the steps of <see cref="TrainingLoop"/> (each step and evaluation batch in a
/// <see cref="TensorScope"/>, so a warm step allocates next to nothing; a NaN or infinite loss throws
/// <see cref="DivergedException"/>), with the optimizer, schedule and callbacks (progress, early stopping, best
/// checkpoint, CSV) chosen by the caller. Everything is checked when the trainer is created, the model against one
/// example included; nothing is written before <see cref="Fit"/>.
/// </summary>
public sealed class ModuleTrainer
{
    private const string CheckpointFormat = "sharpgrad-checkpoint/1";
    private readonly List<EpochMetrics> _metrics = [];

    // metrics hold NaN for the validation columns when there is no validation set
    private static readonly JsonSerializerOptions MetricsJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Trains <paramref name="model"/>.</summary>
    /// <param name="model">The model; its output for a batch (B, ...example shape) must be (B, classes).</param>
    /// <param name="train">The training examples.</param>
    /// <param name="validation">Examples evaluated after every epoch (loss, accuracy), or null.</param>
    /// <param name="options">The recipe (null: the defaults of <see cref="ModuleTrainerOptions"/>).</param>
    /// <param name="generator">
    /// The generator the model draws from while training (e.g. its Dropout layers'), saved in checkpoints so a resumed
    /// run continues its numbers; null: a generator seeded with <see cref="ModuleTrainerOptions.Seed"/>.
    /// </param>
    /// <exception cref="ArgumentException">A bad option (naming the property), a model without parameters, or a model that does not give one score per class for one example (one line).</exception>
    public ModuleTrainer(Module model, ILabeledDataset train, ILabeledDataset? validation = null, ModuleTrainerOptions? options = null, Generator? generator = null)
        : this(model, train, validation, options ?? new ModuleTrainerOptions(), generator ?? new Generator((options ?? new ModuleTrainerOptions()).Seed), validated: false)
    {
    }

    /// <summary>
    /// Builds the model with <paramref name="modelFactory"/> from a generator seeded with
    /// <see cref="ModuleTrainerOptions.Seed"/> (which checkpoints save), then trains it as the other constructor.
    /// </summary>
    /// <exception cref="ArgumentException">As the other constructor.</exception>
    public ModuleTrainer(Func<Generator, Module> modelFactory, ILabeledDataset train, ILabeledDataset? validation = null, ModuleTrainerOptions? options = null)
        : this(Build(modelFactory, options ?? new ModuleTrainerOptions(), out var g), train, validation, options ?? new ModuleTrainerOptions(), g, validated: true)
    {
    }

    private static Module Build(Func<Generator, Module> factory, ModuleTrainerOptions options, out Generator generator)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        generator = new Generator(options.Seed);
        return factory(generator) ?? throw new ArgumentException("ModuleTrainer: the model factory returned null; expected a Module.", nameof(factory));
    }

    private ModuleTrainer(Module model, ILabeledDataset train, ILabeledDataset? validation, ModuleTrainerOptions options, Generator generator, bool validated)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        if (!validated) options.Validate();
        if (!model.Parameters().Any()) throw new ArgumentException($"ModuleTrainer: the model ({model.TypeName}) has no registered parameters to train; register them with RegisterParameter or RegisterModule.");
        if (train.Count == 0) throw new ArgumentException($"ModuleTrainer: the training set ({train.Source}) is empty; expected at least one example.");
        var shape = train.ExampleShape.ToArray();
        if (validation is not null && !validation.ExampleShape.SequenceEqual(shape))
            throw new ArgumentException($"ModuleTrainer: validation examples ({validation.Source}) have shape [{string.Join(",", validation.ExampleShape)}] but training examples have [{string.Join(",", shape)}].");
        if (validation is not null && validation.ClassNames.Count != train.ClassNames.Count)
            throw new ArgumentException($"ModuleTrainer: the validation set ({validation.Source}) has {validation.ClassNames.Count} classes but the training set has {train.ClassNames.Count}.");
        Classes = train.ClassNames.Count;
        CheckOutput(model, shape, Classes);
        Model = model.Fuse(); // prepared for training: containers fuse what they can (bitwise the same results)
        Options = options;
        Generator = generator;
        TrainData = train;
        ValidationData = validation;
        TrainLoader = new DataLoader(train, options.BatchSize, options.Shuffle, options.DropLast, options.Seed, options.TrainTransforms);
        if (TrainLoader.BatchCount == 0)
            throw new ArgumentException($"ModuleTrainerOptions.DropLast: drops every batch of the {train.Count} training examples at BatchSize {options.BatchSize}; expected at least one full batch.");
        ValidationLoader = validation is null ? null : new DataLoader(validation, options.EvaluationBatchSize, transforms: options.EvaluationTransforms);
        Optimizer = options.Optimizer is null
            ? new AdamW(model.Parameters(), options.LearningRate, weightDecay: options.WeightDecay)
            : options.Optimizer(model.Parameters()) ?? throw new ArgumentException("ModuleTrainerOptions.Optimizer: the factory returned null; expected an Optimizer.");
        Scheduler = options.Schedule?.Invoke(Optimizer, options.Epochs * TrainLoader.BatchCount);
    }

    // one example through the model, in evaluation mode and without gradients: the output must be [1, classes]
    private static void CheckOutput(Module model, int[] shape, int classes)
    {
        int[] output = ForwardCheck.Run(model, shape, "ModuleTrainer", $"one example of shape [1,{string.Join(",", shape)}]");
        if (output.Length != 2 || output[1] != classes)
            throw new ArgumentException($"ModuleTrainer: the model ({model.TypeName}) gives output [{string.Join(",", output)}] for one example of shape [1,{string.Join(",", shape)}]; expected [1,{classes}], one score per class of the data.");
    }

    /// <summary>The recipe.</summary>
    public ModuleTrainerOptions Options { get; }

    /// <summary>The model.</summary>
    public Module Model { get; }

    /// <summary>The generator saved in checkpoints (the model factory's, or the one given).</summary>
    public Generator Generator { get; }

    /// <summary>The training examples.</summary>
    public ILabeledDataset TrainData { get; }

    /// <summary>The validation examples, or null.</summary>
    public ILabeledDataset? ValidationData { get; }

    /// <summary>Number of classes (the training set's).</summary>
    public int Classes { get; }

    /// <summary>Training batches (shuffled and transformed as the options say).</summary>
    public DataLoader TrainLoader { get; }

    /// <summary>Validation batches, or null without a validation set.</summary>
    public DataLoader? ValidationLoader { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The learning-rate schedule, stepped after every batch, or null.</summary>
    public LrScheduler? Scheduler { get; }

    /// <summary>Every finished epoch's metrics (a resumed run's earlier epochs included); without a validation set TestLoss and TestAccuracy are NaN.</summary>
    public IReadOnlyList<EpochMetrics> Metrics => _metrics;

    /// <summary>Epochs trained so far (the next epoch <see cref="Fit"/> trains is this plus one).</summary>
    public int EpochsDone { get; private set; }

    /// <summary>
    /// Trains from epoch <see cref="EpochsDone"/> + 1 up to <see cref="ModuleTrainerOptions.Epochs"/>, evaluating the
    /// validation set after each epoch, writing the resume checkpoint when <see cref="ModuleTrainerOptions.CheckpointPath"/>
    /// is set, and calling <paramref name="callbacks"/> in order; a callback may stop training after an epoch.
    /// Kernels run on <see cref="ModuleTrainerOptions.Threads"/> threads.
    /// </summary>
    /// <returns>The metrics, why training stopped early (or null) and the last validation evaluation.</returns>
    /// <exception cref="DivergedException">The loss became NaN or infinite (the message names the epoch and step; the last checkpoint stays as it was).</exception>
    /// <exception cref="ArgumentException">A callback cannot work with this trainer (e.g. it monitors a validation metric without a validation set).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> was signalled (checked before every step).</exception>
    public TrainingResult Fit(IEnumerable<ITrainingCallback>? callbacks = null, CancellationToken cancel = default)
    {
        var list = callbacks?.ToList() ?? [];
        if (list.Any(c => c is null)) throw new ArgumentException("ModuleTrainer.Fit: a callback is null.", nameof(callbacks));
        var state = new TrainingState(this) { Epoch = EpochsDone };
        foreach (var c in list) c.TrainingStarted(state);
        var observer = new CallbackObserver(state, list);
        using var threads = Parallelism.UseThreads(Options.Threads);
        Evaluation? last = null;
        int ran = 0;
        for (int epoch = EpochsDone; epoch < Options.Epochs && !state.StopRequested; epoch++)
        {
            state.Epoch = epoch + 1;
            var sw = Stopwatch.StartNew();
            var (trainLoss, trainAccuracy) = TrainingLoop.TrainEpochCore(Model, TrainLoader, Optimizer, Scheduler, epoch, Options.Epochs, Options.L1,
                observer, null, cancel, Options.Loss, e => OptionException.Escape(DivergenceAdvice(e)), []);
            last = ValidationLoader is null ? null : TrainingLoop.Evaluate(Model, ValidationLoader, Classes);
            var m = new EpochMetrics(epoch + 1, trainLoss, trainAccuracy, last?.Loss ?? double.NaN, last?.Accuracy ?? double.NaN, sw.Elapsed.TotalSeconds, Optimizer.Lr);
            _metrics.Add(m);
            EpochsDone = epoch + 1;
            ran++;
            if (Options.CheckpointPath is string path) SaveCheckpoint(path);
            foreach (var c in list) c.EpochCompleted(state, m);
        }
        foreach (var c in list) c.TrainingEnded(state);
        return new TrainingResult(_metrics.ToList(), ran, state.StopReason, last);
    }

    private string DivergenceAdvice(int epoch) =>
        (Options.CheckpointPath is null ? "" : $"the checkpoint {Options.CheckpointPath} ({(epoch == 0 ? "none yet" : $"epoch {epoch}")}) is unchanged. ")
        + (Options.Optimizer is null ? $"Try a lower {nameof(ModuleTrainerOptions)}.{nameof(ModuleTrainerOptions.LearningRate)} (now {Options.LearningRate})." : "Try a lower learning rate in the optimizer.");

    /// <summary>Mean cross-entropy, accuracy and confusion matrix of the model on <paramref name="data"/> (with the evaluation transforms).</summary>
    /// <exception cref="ArgumentException">Examples of another shape or class count than the training set's.</exception>
    public Evaluation Evaluate(ILabeledDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.ExampleShape.SequenceEqual(TrainData.ExampleShape) || data.ClassNames.Count != Classes)
            throw new ArgumentException($"ModuleTrainer.Evaluate: {data.Source} has examples [{string.Join(",", data.ExampleShape)}] and {data.ClassNames.Count} classes; the model was trained on [{string.Join(",", TrainData.ExampleShape)}] and {Classes}.");
        using var threads = Parallelism.UseThreads(Options.Threads);
        return TrainingLoop.Evaluate(Model, new DataLoader(data, Options.EvaluationBatchSize, transforms: Options.EvaluationTransforms), Classes);
    }

    /// <summary>
    /// Writes a resume checkpoint to <paramref name="path"/> atomically: safetensors with the model's state dict
    /// ("model." + name), the optimizer's state ("optim." + name) and, as metadata, the epochs done, the generator
    /// state and the metrics so far.
    /// </summary>
    public void SaveCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var meta = new JsonObject
        {
            ["format"] = CheckpointFormat,
            ["epoch"] = EpochsDone,
            ["rng"] = new JsonArray(Generator.GetState().Select(s => (JsonNode)s.ToString(CultureInfo.InvariantCulture)).ToArray()),
            ["metrics"] = new JsonArray(_metrics.Select(m => JsonSerializer.SerializeToNode(m, MetricsJson)).ToArray()),
        };
        var tensors = Model.StateDict().Select(s => ("model." + s.Name, s.Value))
            .Concat(Optimizer.StateDict().Select(s => ("optim." + s.Name, s.Value)));
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["sharpgrad"] = meta.ToJsonString() });
    }

    /// <summary>
    /// Restores a checkpoint written by <see cref="SaveCheckpoint"/> (or after every epoch with
    /// <see cref="ModuleTrainerOptions.CheckpointPath"/>) into this trainer, whose model and optimizer must be built
    /// as the saved ones: weights, optimizer state, generator state, metrics and the schedule's position; the next
    /// <see cref="Fit"/> continues where it stopped, giving bitwise the weights of a run that never stopped.
    /// </summary>
    /// <exception cref="DataException">A missing file or one that is not such a checkpoint.</exception>
    /// <exception cref="ArgumentException">Weights or optimizer state that do not fit (naming the tensor), or a checkpoint that has already trained <see cref="ModuleTrainerOptions.Epochs"/> epochs.</exception>
    public void LoadCheckpoint(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new DataException($"{path}: no checkpoint to resume from (ModuleTrainer writes one with SaveCheckpoint or ModuleTrainerOptions.CheckpointPath).");
        var (tensors, metadata) = SafeTensors.Read(path);
        int epoch;
        ulong[] rng;
        List<EpochMetrics> metrics;
        try
        {
            var meta = metadata.TryGetValue("sharpgrad", out var json) ? JsonNode.Parse(json)!.AsObject() : throw new DataException($"{path}: not a ModuleTrainer checkpoint (no sharpgrad metadata).");
            if (meta["format"]?.GetValue<string>() != CheckpointFormat) throw new DataException($"{path}: not a ModuleTrainer checkpoint (format '{meta["format"]}', expected {CheckpointFormat}).");
            epoch = meta["epoch"]!.GetValue<int>();
            rng = meta["rng"]!.AsArray().Select(x => ulong.Parse(x!.GetValue<string>(), CultureInfo.InvariantCulture)).ToArray();
            metrics = meta["metrics"]!.AsArray().Select(m => m.Deserialize<EpochMetrics>(MetricsJson)!).ToList();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException or FormatException)
        {
            throw new DataException($"{path}: malformed checkpoint metadata ({e.Message}).", e);
        }
        if (epoch >= Options.Epochs)
            throw new ArgumentException($"ModuleTrainerOptions.Epochs: the checkpoint {path} has already trained {epoch} epochs; set Epochs above {epoch} to continue.");
        static Dictionary<string, Tensor> Part(Dictionary<string, Tensor> all, string prefix) =>
            all.Where(t => t.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(t => t.Key[prefix.Length..], t => t.Value);
        Model.LoadStateDict(Part(tensors, "model."));
        Optimizer.LoadStateDict(Part(tensors, "optim."));
        Generator.SetState(rng);
        _metrics.Clear();
        _metrics.AddRange(metrics);
        EpochsDone = epoch;
        Scheduler?.SetStep(epoch * TrainLoader.BatchCount);
    }

    // forwards TrainEpoch's progress to the callbacks
    private sealed class CallbackObserver(TrainingState state, List<ITrainingCallback> callbacks) : ITrainingObserver
    {
        public void EpochStarted(int epoch, int epochs, int steps)
        {
            foreach (var c in callbacks) c.EpochStarted(state, steps);
        }

        public void StepCompleted(int epoch, int step, int steps, double loss, double accuracy, double imagesPerSecond)
        {
            if (callbacks.Count == 0) return;
            var p = new StepProgress(epoch, step, steps, loss, accuracy, imagesPerSecond);
            foreach (var c in callbacks) c.StepCompleted(state, p);
        }

        public void EpochCompleted(EpochMetrics metrics)
        {
        }
    }
}

/// <summary>What <see cref="ModuleTrainer.Fit"/> did.</summary>
/// <param name="Metrics">Every finished epoch's metrics (a resumed run's earlier epochs included).</param>
/// <param name="EpochsRun">Epochs this call trained.</param>
/// <param name="StopReason">Why a callback stopped training early, or null when every epoch ran.</param>
/// <param name="Validation">The last epoch's validation evaluation, or null (no validation set, or no epoch run).</param>
public sealed record TrainingResult(IReadOnlyList<EpochMetrics> Metrics, int EpochsRun, string? StopReason, Evaluation? Validation);
