using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

using Sharpgrad.NN;

namespace Sharpgrad.Workflows;

/// <summary>
/// Trains a model (a built-in one or a model file, <see cref="TrainOptions.Model"/>) with a <see cref="TrainOptions"/>
/// recipe: the model is checked against the data's image shape and class count, everything is validated and the data loaded before
/// the output folder is touched; after every epoch the checkpoint is written atomically; a NaN or infinite loss
/// stops training with the epoch and step named and leaves the last good checkpoint as it was.
/// </summary>
public sealed class TrainWorkflow
{
    private readonly Generator _rng;
    private readonly List<EpochMetrics> _metrics = [];
    private int _startEpoch;

    private TrainWorkflow(TrainOptions options, DatasetPair data, string outDir, System.Text.Json.Nodes.JsonNode? modelSpec = null, string? specSource = null)
    {
        Options = options;
        Data = data;
        OutDir = outDir;
        Train = options.Limit is int n ? data.Train.Take(n) : data.Train;
        Test = options.TestLimit is int t ? data.Test.Take(t) : data.Test;
        if (Train.Count == 0) throw new DataException($"{Train.Source}: the training set is empty.");
        if (Test.Count == 0) throw new DataException($"{Test.Source}: the test set is empty.");
        if (Test.Channels != Train.Channels || Test.Height != Train.Height || Test.Width != Train.Width)
            throw new DataException($"{Test.Source}: test images are {Test.Channels}x{Test.Height}x{Test.Width} but training images are {Train.Channels}x{Train.Height}x{Train.Width}.");
        _rng = new Generator(options.Seed);
        Model = BuildModel(options, modelSpec, Train.Channels, Train.Height, Train.Width, Train.ClassNames.Count, _rng, specSource);
        Normalize = Normalize.FromData(Train);
        TrainLoader = new DataLoader(Train, options.BatchSize, shuffle: true, dropLast: false, seed: options.Seed, options.TrainingTransforms(Normalize));
        TestLoader = new DataLoader(Test, 500, transforms: [Normalize]);
        Optimizer = options.Optimizer switch
        {
            "sgd" => new Sgd(Model.Parameters(), options.EffectiveLr, momentum: 0.9, weightDecay: options.WeightDecay, nesterov: true),
            "rmsprop" => new RmsProp(Model.Parameters(), options.EffectiveLr, weightDecay: options.WeightDecay),
            "adam" => new Adam(Model.Parameters(), options.EffectiveLr, weightDecay: options.WeightDecay),
            _ => (Optimizer)new AdamW(Model.Parameters(), options.EffectiveLr, weightDecay: options.WeightDecay),
        };
        Ema = options.Ema > 0 ? new ExponentialMovingAverage(Model, options.Ema, warmup: true) : null;
        int steps = options.Epochs * TrainLoader.BatchCount;
        Scheduler = options.Schedule switch
        {
            "onecycle" => steps >= 2 ? new OneCycleLr(Optimizer, options.EffectiveLr, steps) : null,
            "cosine" => new CosineAnnealingLr(Optimizer, steps),
            "step" => new StepLr(Optimizer, Math.Max(1, steps / 3), 0.1),
            _ => null,
        };
    }

    /// <summary>The recipe.</summary>
    public TrainOptions Options { get; }

    /// <summary>The loaded data.</summary>
    public DatasetPair Data { get; }

    /// <summary>The training set (after --limit).</summary>
    public ImageDataset Train { get; }

    /// <summary>The test set.</summary>
    public ImageDataset Test { get; }

    /// <summary>Where files go.</summary>
    public string OutDir { get; }

    /// <summary>The network.</summary>
    public Module Model { get; }

    /// <summary>
    /// Builds the recipe's model for images (C, H, W) and <paramref name="classes"/> classes: a built-in model by name,
    /// else the model file it names, or <paramref name="spec"/> (a resumed run's stored description) when given; then
    /// checks that one image gives one score per class.
    /// </summary>
    /// <exception cref="ArgumentException">The model does not fit the images or the classes (one line naming the layer).</exception>
    /// <exception cref="DataException">A bad model file.</exception>
    public static Module BuildModel(TrainOptions options, System.Text.Json.Nodes.JsonNode? spec, int channels, int height, int width, int classes, Generator generator, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        string what = source ?? options.Model;
        Module model;
        try
        {
            model = spec is not null ? ModelSpec.Build(spec, source ?? options.Model, generator)
                : options.IsBuiltInModel ? Models.Create(options.Model, channels, height, width, classes, options.Dropout, generator)
                : ModelSpec.Load(options.Model, generator);
        }
        catch (ArgumentException e) when (options.IsBuiltInModel)
        {
            throw new OptionException(nameof(TrainOptions.Model), $"{what}: cannot be built for {channels}x{height}x{width} images and {classes} classes: {e.Message}", e);
        }
        int[] shape;
        try
        {
            shape = ForwardCheck.Run(model, [channels, height, width], what, $"the data's {channels}x{height}x{width} images");
        }
        catch (ArgumentException e) when (e is not OptionException)
        {
            throw new OptionException(nameof(TrainOptions.Model), e.Message, e);
        }
        if (shape.Length != 2 || shape[1] != classes)
            throw new OptionException(nameof(TrainOptions.Model), $"{what}: gives output [{string.Join(",", shape)}] for one {channels}x{height}x{width} image; expected [1,{classes}], one score per class of the data.");
        return model.Fuse();
    }

    /// <summary>Input normalization (from the training set's statistics).</summary>
    public Normalize Normalize { get; }

    /// <summary>Training batches.</summary>
    public DataLoader TrainLoader { get; }

    /// <summary>Test batches.</summary>
    public DataLoader TestLoader { get; }

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>
    /// The weights' moving average (<see cref="TrainOptions.Ema"/>; null: none): what is evaluated and written to
    /// model.safetensors. <see cref="Model"/> keeps the trained weights; <c>using (Ema.Apply())</c> puts the average in.
    /// </summary>
    public ExponentialMovingAverage? Ema { get; }

    /// <summary>The LR schedule, stepped after every batch (null: constant).</summary>
    public LrScheduler? Scheduler { get; }

    /// <summary>Per-epoch metrics so far (including those of a resumed run).</summary>
    public IReadOnlyList<EpochMetrics> Metrics => _metrics;

    /// <summary>The first epoch <see cref="Run"/> trains (0 unless resumed).</summary>
    public int StartEpoch => _startEpoch;

    /// <summary>
    /// Validates the options, loads the data and, with <paramref name="resumeDir"/>, the checkpoint; nothing is
    /// written yet. When resuming, the checkpoint's recipe is used with this call's <see cref="TrainOptions.Epochs"/>
    /// and <see cref="TrainOptions.Threads"/>.
    /// </summary>
    public static TrainWorkflow Create(TrainOptions options, string outDir, string? resumeDir = null) =>
        Create(options, outDir, resumeDir, given: null, overwrite: false);

    /// <summary>The recipe options that may change when a run is resumed (they apply from the next epoch on).</summary>
    public static readonly IReadOnlyList<string> ResumableOptions =
        [nameof(TrainOptions.Epochs), nameof(TrainOptions.Lr), nameof(TrainOptions.Threads), nameof(TrainOptions.BatchSize),
         nameof(TrainOptions.WeightDecay), nameof(TrainOptions.L1), nameof(TrainOptions.Augment), nameof(TrainOptions.TestLimit), nameof(TrainOptions.Tta), nameof(TrainOptions.DataDir)];

    /// <summary>
    /// As <see cref="Create(TrainOptions, string, string?)"/>, for the command line. The output folder is checked
    /// first (<see cref="RunFiles.CheckOutFolder"/>: a finished run or other files are refused unless
    /// <paramref name="overwrite"/>, and it must be writable), before any data is loaded. When resuming,
    /// <paramref name="given"/> names the <see cref="TrainOptions"/> properties the user set: those in
    /// <see cref="ResumableOptions"/> replace the checkpoint's values and are recorded in the run; any other that
    /// differs from the checkpoint's recipe is refused in one line naming them. A data folder is stored as an
    /// absolute path, so a run resumes from any working folder; a moved one is given as <see cref="TrainOptions.DataDir"/> and must have the
    /// <see cref="DataFingerprint"/> the checkpoint stores (checkpoints written before runs stored one are taken on trust).
    /// </summary>
    /// <exception cref="ArgumentException">A bad option, output folder or resume request (one line naming the option).</exception>
    /// <exception cref="DataException">Bad data, data whose fingerprint is not the resumed run's, or a bad checkpoint (one line naming the file).</exception>
    public static TrainWorkflow Create(TrainOptions options, string outDir, string? resumeDir, IReadOnlySet<string>? given, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(outDir);
        bool sameFolder = resumeDir is not null && Path.GetFullPath(resumeDir) == Path.GetFullPath(outDir);
        JsonNode? spec = null;
        Checkpoint? checkpoint = null;
        var changes = new List<OptionChange>();
        if (resumeDir is not null)
        {
            checkpoint = ReadCheckpoint(resumeDir);
            CheckSameRun(resumeDir, checkpoint);
            var saved = checkpoint.Recipe;
            spec = checkpoint.Model?.DeepClone(); // the run's own description: the model file may have moved or changed since
            try
            {
                (spec is null ? saved : saved with { Model = "exam-cnn" }).Validate();
            }
            catch (ArgumentException e)
            {
                throw new DataException($"{checkpoint.Path}: \"recipe\" in the checkpoint's sharpgrad metadata is not valid: {e.Message}", e);
            }
            if (given is not null && options.DataDir is not null) options = options with { DataDir = Path.GetFullPath(options.DataDir) };
            options = given is null ? saved with { Epochs = options.Epochs, Threads = options.Threads } : Merge(saved, options, given, changes);
        }
        if (spec is null) options.Validate();
        else (options with { Model = "exam-cnn" }).Validate();
        RunFiles.CheckOutFolder(outDir, overwrite, sameFolder);
        if (options.DataDir is not null) options = options with { DataDir = Path.GetFullPath(options.DataDir) };
        if (checkpoint is not null) CheckDataFolderExists(checkpoint.Recipe, options);
        var data = DataSources.Load(options.Data, options.DataDir, options.Seed);
        var fingerprint = DataFingerprint.Of(options.Data, data);
        if (checkpoint is not null) CheckFingerprint(checkpoint, options, fingerprint);
        var trainer = new TrainWorkflow(options, data, outDir, spec, checkpoint?.Path) { _overwrite = overwrite && !sameFolder, Changes = changes, Fingerprint = fingerprint };
        if (checkpoint is not null) trainer.Restore(checkpoint, resumeDir!);
        return trainer;
    }

    // a resumed run's data folder that is gone, with no other given: one line saying to give the new one
    private static void CheckDataFolderExists(TrainOptions saved, TrainOptions options)
    {
        if (options.DataDir is string dir && dir == saved.DataDir && !Directory.Exists(dir))
            throw OptionException.Format($"{{0}}: the run's data folder {OptionException.Escape(dir)} no longer exists; pass {{1}} {OptionException.Escape(options.Data)} DIR with the folder it moved to (its fingerprint is checked against the run's).", ResumeDirOption, nameof(TrainOptions.Data));
    }

    // the data of a resumed run must be the run's (an old checkpoint without a fingerprint is taken on trust)
    private static void CheckFingerprint(Checkpoint checkpoint, TrainOptions options, DataFingerprint fingerprint)
    {
        if (checkpoint.Data is not { } stored || stored == fingerprint) return;
        string Folder(string? dir) => dir ?? $"the bundled {options.Data}";
        string was = Folder(checkpoint.Recipe.DataDir), now = Folder(options.DataDir);
        throw new DataException(was == now
            ? $"{now}: the dataset changed since the run in {Path.GetDirectoryName(checkpoint.Path)} was trained on it ({stored.Differences(fingerprint)}); restore it, or start a new run in another output folder."
            : $"{now}: not the dataset the run in {Path.GetDirectoryName(checkpoint.Path)} was trained on in {was} ({stored.Differences(fingerprint)}); give the folder that holds the run's dataset, or start a new run in another output folder.");
    }

    // the checkpoint's recipe with the user's resumable options applied; a fixed option that differs is refused
    private static TrainOptions Merge(TrainOptions saved, TrainOptions asked, IReadOnlySet<string> given, List<OptionChange> changes)
    {
        var refused = new List<(string Name, string Was, string Now)>();
        var result = saved;
        foreach (var name in given.Order(StringComparer.Ordinal))
        {
            var property = typeof(TrainOptions).GetProperty(name) ?? throw new ArgumentException($"TrainWorkflow.Create: '{name}' is not a TrainOptions property.", nameof(given));
            object? was = property.GetValue(saved), now = property.GetValue(asked);
            if (name == nameof(TrainOptions.Lr))
            {
                // a run without Lr used its optimizer's default: show (and compare) the rate it trained with, not "none"
                was = saved.EffectiveLr;
                now ??= saved.EffectiveLr;
            }
            if (Equals(was, now)) continue;
            if (!ResumableOptions.Contains(name))
            {
                refused.Add((name, Show(was), Show(now)));
                continue;
            }
            property.SetValue(result = result with { }, now);
            changes.Add(new OptionChange(name, Show(was), Show(now)));
        }
        if (refused.Count > 0)
        {
            // placeholders: {0} ResumeDir, {1}..{k} the refused options, then OutDir, then the resumable ones
            var names = new List<string> { ResumeDirOption };
            var parts = refused.Select((r, i) => $"{{{i + 1}}} (the run has {OptionException.Escape(r.Was)}, asked {OptionException.Escape(r.Now)})").ToList();
            names.AddRange(refused.Select(r => r.Name));
            int outIndex = names.Count;
            names.Add(OutDirOption);
            var resumable = ResumableOptions.Where(o => o != nameof(TrainOptions.DataDir)).ToList();
            var listed = resumable.Select((o, i) => $"{{{outIndex + 1 + i}}}");
            names.AddRange(resumable);
            names.Add(nameof(TrainOptions.DataDir));
            throw OptionException.Format(
                $"{{0}}: {string.Join("; ", parts)} cannot change in a resumed run; drop {(refused.Count > 1 ? "them" : "it")}, or start a new run with {{{outIndex}}} (a resume may change only {string.Join(", ", listed)} and the {{{names.Count - 1}}} folder).",
                [.. names]);
        }
        return result;
    }

    /// <summary>The option name by which errors name the run folder to resume (a parameter of <see cref="Create(TrainOptions, string, string?, IReadOnlySet{string}?, bool)"/>).</summary>
    public const string ResumeDirOption = "ResumeDir";

    /// <summary>The option name by which errors name the output folder.</summary>
    public const string OutDirOption = "OutDir";

    private static string Show(object? v) => v switch
    {
        null => "none",
        string t => t.Length == 0 ? "none" : t,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "none",
    };

    private bool _overwrite;

    /// <summary>The fingerprint of the loaded data (before the limit), stored in the checkpoint and model.json.</summary>
    public DataFingerprint? Fingerprint { get; private init; }

    /// <summary>What a resume changed in the recipe (Lr 0.005 -> 0.001); empty for a new run.</summary>
    public IReadOnlyList<OptionChange> Changes { get; private init; } = [];

    /// <summary>Called after every epoch's checkpoint and metrics.csv are written (the command line draws its plots here).</summary>
    public Action<IReadOnlyList<EpochMetrics>, Evaluation>? EpochWritten { get; set; }

    /// <summary>A checkpoint's tensors and its checked "sharpgrad" metadata.</summary>
    internal sealed record Checkpoint(string Path, Dictionary<string, Tensor> Tensors, TrainOptions Recipe, int Epoch, ulong[] Rng, List<EpochMetrics> Metrics, JsonObject? Model)
    {
        /// <summary>The run's data fingerprint ("data_fingerprint"); null in a checkpoint written before runs stored one.</summary>
        public DataFingerprint? Data { get; init; }
    }

    // the fields of a serialized EpochMetrics
    private static readonly string[] MetricFields = [.. typeof(EpochMetrics).GetConstructors()[0].GetParameters().Select(p => p.Name!)];

    /// <summary>The number of words in a <see cref="Generator"/>'s state.</summary>
    private const int RngWords = 6;

    /// <summary>Reads a run's checkpoint; every metadata field is checked (one line naming the file and the field).</summary>
    // a finished run's model.json and its checkpoint describe the same model; a checkpoint copied in from another run
    // would continue that run and overwrite this one's final files
    private static void CheckSameRun(string dir, Checkpoint checkpoint)
    {
        var jsonPath = Path.Combine(dir, RunFiles.ModelJson);
        if (checkpoint.Model is not JsonObject ours || !File.Exists(jsonPath)) return;
        JsonNode? run;
        try
        {
            run = JsonNode.Parse(File.ReadAllText(jsonPath));
        }
        catch (JsonException)
        {
            return; // a malformed model.json is rewritten at the end of the run
        }
        if (run?["model"] is not JsonObject theirs || JsonNode.DeepEquals(ours, theirs)) return;
        string Name(JsonNode? n) => n is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : "another model";
        throw new DataException($"{dir}: {RunFiles.Checkpoint} and {RunFiles.ModelJson} come from different runs (the checkpoint trains {checkpoint.Recipe.Model}, model.json describes {Name(run["architecture"])}); resuming would overwrite the finished run: resume a folder whose files belong together.");
    }

    internal static Checkpoint ReadCheckpoint(string dir)
    {
        try
        {
            return ReadCheckpointFields(dir);
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json checks a string's escapes only when it is read: "\udeca" alone is not text
            throw new DataException($"{Path.Combine(dir, RunFiles.Checkpoint)}: the \"sharpgrad\" metadata holds a string that is not valid Unicode ({e.Message})", e);
        }
    }

    private static Checkpoint ReadCheckpointFields(string dir)
    {
        var path = Path.Combine(dir, RunFiles.Checkpoint);
        if (!File.Exists(path)) throw new DataException($"{path}: no checkpoint to resume from (sharpgrad train writes one after every epoch).");
        var (tensors, meta) = SafeTensors.Read(path);
        if (!meta.TryGetValue("sharpgrad", out var json)) throw new DataException($"{path}: checkpoint has no \"sharpgrad\" metadata (epoch, recipe, rng, metrics).");
        JsonObject m;
        try
        {
            m = JsonNode.Parse(json, documentOptions: RunFiles.StrictJson) as JsonObject ?? throw new DataException($"{path}: the \"sharpgrad\" metadata is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new DataException($"{path}: the \"sharpgrad\" metadata is not valid JSON ({e.Message.ReplaceLineEndings(" ")}).", e);
        }
        DataException Bad(string field, string expected, Exception? inner = null)
        {
            var got = m[field] is JsonNode node ? node.ToJsonString() : m.ContainsKey(field) ? "null" : "nothing";
            if (got.Length > 100) got = got[..100] + "...";
            var message = $"{path}: \"{field}\" in the \"sharpgrad\" metadata must be {expected}, got {got}.";
            return inner is null ? new DataException(message) : new DataException(message, inner);
        }

        if (m["epoch"] is not JsonValue ev || ev.GetValueKind() != JsonValueKind.Number || !ev.TryGetValue(out int epoch) || epoch < 0)
            throw Bad("epoch", "the number of epochs done, a non-negative integer");

        TrainOptions recipe;
        if (m["recipe"] is not JsonObject r) throw Bad("recipe", "the training options (an object)");
        try
        {
            recipe = r.Deserialize<TrainOptions>(RunFiles.Json) ?? throw Bad("recipe", "the training options (an object)");
        }
        catch (JsonException e)
        {
            throw Bad("recipe", $"the training options ({e.Message.ReplaceLineEndings(" ")})", e);
        }

        ulong[]? rng = m["rng"] is JsonArray ra && ra.Count == RngWords ? new ulong[RngWords] : null;
        for (int i = 0; rng is not null && i < RngWords; i++)
            if (m["rng"]![i] is not JsonValue v || v.GetValueKind() != JsonValueKind.String
                || !ulong.TryParse(v.GetValue<string>(), NumberStyles.None, CultureInfo.InvariantCulture, out rng[i]))
                rng = null;
        if (rng is null) throw Bad("rng", $"the random generator's state, {RngWords} unsigned 64-bit integers as decimal strings");

        var metrics = new List<EpochMetrics>();
        if (m["metrics"] is not JsonArray ma || ma.Count != epoch)
            throw Bad("metrics", $"an array of {epoch} per-epoch records (one per epoch done)");
        for (int i = 0; i < ma.Count; i++)
        {
            EpochMetrics? e = null;
            try
            {
                e = ma[i] is JsonObject o && MetricFields.All(f => o[f] is JsonValue v && v.GetValueKind() == JsonValueKind.Number) ? o.Deserialize<EpochMetrics>(RunFiles.Json) : null;
            }
            catch (JsonException ex)
            {
                throw Bad("metrics", $"per-epoch records (record {i + 1}: {ex.Message.ReplaceLineEndings(" ")})", ex);
            }
            if (e is null || e.Epoch != i + 1)
                throw Bad("metrics", $"per-epoch records with epoch, train and test loss and accuracy, seconds and lr (record {i + 1} is not)");
            metrics.Add(e);
        }

        var model = m["model"] switch
        {
            null => null,
            JsonObject o => o,
            _ => throw Bad("model", "the model's description (an object) or null"),
        };
        var data = m["data_fingerprint"] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String && DataFingerprint.Parse(v.GetValue<string>()) is { } f => f,
            _ => throw Bad("data_fingerprint", "the dataset's fingerprint (\"KIND TRAIN+TEST images of CxHxW, N classes, sha256 HEX\")"),
        };
        return new Checkpoint(path, tensors, recipe, epoch, rng, metrics, model) { Data = data };
    }

    private void Restore(Checkpoint checkpoint, string dir)
    {
        string Strip(string k, string prefix) => k[prefix.Length..];
        var tensors = checkpoint.Tensors;
        try
        {
            Model.LoadStateDict(tensors.Where(t => t.Key.StartsWith("model.", StringComparison.Ordinal)).ToDictionary(t => Strip(t.Key, "model."), t => t.Value));
        }
        catch (ArgumentException e)
        {
            throw new DataException($"{checkpoint.Path}: the model's weights (\"model.*\") do not fit the checkpoint's model: {e.Message}", e);
        }
        try
        {
            Optimizer.LoadStateDict(tensors.Where(t => t.Key.StartsWith("optim.", StringComparison.Ordinal)).ToDictionary(t => Strip(t.Key, "optim."), t => t.Value));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new DataException($"{checkpoint.Path}: the optimizer state (\"optim.*\") does not fit the {Options.Optimizer} optimizer: {e.Message}", e);
        }
        var unknown = tensors.Keys.FirstOrDefault(k => !k.StartsWith("model.", StringComparison.Ordinal) && !k.StartsWith("optim.", StringComparison.Ordinal)
            && !(Ema is not null && k.StartsWith("ema.", StringComparison.Ordinal)));
        if (unknown is not null) throw new DataException($"{checkpoint.Path}: tensor {SafeTensors.Quote(unknown)} is neither \"model.*\" nor \"optim.*\"{(Ema is null ? "" : " nor \"ema.*\"")}.");
        if (Ema is not null)
        {
            try
            {
                Ema.LoadStateDict(tensors.Where(t => t.Key.StartsWith("ema.", StringComparison.Ordinal)).ToDictionary(t => Strip(t.Key, "ema."), t => t.Value));
            }
            catch (ArgumentException e)
            {
                throw new DataException($"{checkpoint.Path}: the weights' moving average (\"ema.*\") does not fit the model: {e.Message}", e);
            }
        }
        _startEpoch = checkpoint.Epoch;
        if (_startEpoch > Options.Epochs)
            throw new OptionException(nameof(TrainOptions.Epochs), $"the checkpoint in {dir} has already trained {_startEpoch} epochs; pass a total of at least {_startEpoch} (equal: rewrite the run's final files).");
        _rng.SetState(checkpoint.Rng);
        if (Changes.Any(c => c.Option == nameof(TrainOptions.Lr))) Optimizer.Lr = Options.EffectiveLr; // the checkpoint's rate gives way to the new one
        _metrics.AddRange(checkpoint.Metrics);
        Scheduler?.SetStep(_startEpoch * TrainLoader.BatchCount);
    }

    /// <summary>
    /// Trains the remaining epochs, evaluating and checkpointing after each; returns the final test evaluation. The
    /// kernels use <see cref="TrainOptions.Threads"/> threads (a <see cref="Parallelism.UseThreads"/> scope: the
    /// process-wide <see cref="Parallelism.MaxThreads"/> and other threads are left as they are).
    /// </summary>
    public Evaluation Run(ITrainingObserver? observer = null, CancellationToken cancel = default)
    {
        using var threads = Parallelism.UseThreads(Options.Threads);
        string kept = _startEpoch == 0 ? "nothing was kept" : $"the checkpoint after epoch {_startEpoch} is unchanged";
        bool created = !Directory.Exists(OutDir);
        try
        {
            return RunEpochs(observer, cancel, kept);
        }
        catch
        {
            // a run that failed before writing anything leaves no empty folder behind (checked after the epoch's own
            // clean-up has run; a folder that cannot be removed stays, and the run's own error is what is reported)
            try
            {
                if (created && Directory.Exists(OutDir) && !Directory.EnumerateFileSystemEntries(OutDir).Any()) Directory.Delete(OutDir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            throw;
        }
    }

    // what a diverged run keeps and what to change ({0}: the learning-rate option), after a training step or a test
    private static string DivergenceAdvice(int epoch) =>
        OptionException.Escape($"the last good checkpoint ({(epoch == 0 ? "none yet" : $"epoch {epoch}")}) is unchanged. Try a lower ") + "{0}.";

    private Evaluation RunEpochs(ITrainingObserver? observer, CancellationToken cancel, string kept)
    {
        RunFiles.Writing(OutDir, kept, () =>
        {
            Directory.CreateDirectory(OutDir);
            RunFiles.RemoveStaleTemps(OutDir);
            if (_overwrite)
                foreach (var f in RunFiles.KnownFiles) File.Delete(Path.Combine(OutDir, f)); // a half rerun never sits beside the old model
        });
        _overwrite = false;
        Evaluation? last = null;
        for (int epoch = _startEpoch; epoch < Options.Epochs; epoch++)
        {
            var sw = Stopwatch.StartNew();
            var (trainLoss, trainAccuracy) = TrainingLoop.TrainEpochCore(Model, TrainLoader, Optimizer, Scheduler, epoch, Options.Epochs, Options.L1, observer, null, cancel, LossFunction,
                DivergenceAdvice, [nameof(TrainOptions.Lr)], Ema);
            last = Evaluate();
            if (!double.IsFinite(last.Loss))
                throw new DivergedException(OptionException.Escape(string.Create(CultureInfo.InvariantCulture,
                    $"training diverged: the test loss is {last.Loss} after epoch {epoch + 1}; ")) + DivergenceAdvice(epoch), [nameof(TrainOptions.Lr)]);
            var m = new EpochMetrics(epoch + 1, trainLoss, trainAccuracy, last.Loss, last.Accuracy, sw.Elapsed.TotalSeconds, Optimizer.Lr);
            _metrics.Add(m);
            SaveCheckpoint(epoch + 1);
            RunFiles.Writing(Path.Combine(OutDir, RunFiles.MetricsCsv), $"the checkpoint after epoch {epoch + 1} is written",
                () => RunFiles.WriteText(Path.Combine(OutDir, RunFiles.MetricsCsv), RunFiles.MetricsText(_metrics)));
            EpochWritten?.Invoke(_metrics, last);
            observer?.EpochCompleted(m);
        }
        last ??= Evaluate();
        SaveOutputs();
        return last;
    }

    // the training loss: cross-entropy, label-smoothed when asked (null: TrainingLoop's plain cross-entropy)
    private Func<Tensor, Batch, Tensor>? LossFunction =>
        Options.LabelSmoothing > 0 ? (logits, batch) => Losses.CrossEntropy(logits, batch.Labels, labelSmoothing: Options.LabelSmoothing) : null;

    // the test evaluation, of the moving average when there is one
    private Evaluation Evaluate()
    {
        using (Ema?.Apply()) return TrainingLoop.Evaluate(Model, TestLoader, Train.ClassNames.Count, flipAverage: Options.Tta == "flip");
    }

    private void SaveCheckpoint(int epochsDone)
    {
        var meta = new JsonObject
        {
            ["epoch"] = epochsDone,
            ["recipe"] = JsonSerializer.SerializeToNode(Options, RunFiles.Json),
            ["rng"] = new JsonArray(_rng.GetState().Select(s => (JsonNode)s.ToString(CultureInfo.InvariantCulture)).ToArray()),
            ["model"] = RunFiles.DescribeModel(Model),
            ["metrics"] = new JsonArray(_metrics.Select(m => JsonSerializer.SerializeToNode(m, RunFiles.Json)).ToArray()),
        };
        var tensors = Model.StateDict().Select(s => ("model." + s.Name, s.Value))
            .Concat(Optimizer.StateDict().Select(s => ("optim." + s.Name, s.Value)))
            .Concat(Ema?.StateDict().Select(s => ("ema." + s.Name, s.Value)) ?? []);
        if (Changes.Count > 0) meta["resumed"] = new JsonArray(Changes.Select(c => (JsonNode)c.ToString()).ToArray());
        if (Fingerprint is not null) meta["data_fingerprint"] = Fingerprint.ToString();
        var path = Path.Combine(OutDir, RunFiles.Checkpoint);
        RunFiles.Writing(path, epochsDone == 1 ? "no checkpoint was kept" : $"the checkpoint after epoch {epochsDone - 1} is unchanged",
            () => SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["sharpgrad"] = meta.ToJsonString() }));
    }

    // model.json last: its presence marks a finished run
    private void SaveOutputs()
    {
        string kept = $"the checkpoint after epoch {_metrics.Count} is intact; resuming {OutDir} writes the final files";
        var weights = Path.Combine(OutDir, RunFiles.Weights);
        RunFiles.Writing(weights, kept, () =>
        {
            using (Ema?.Apply()) SafeTensors.Write(weights, Model.StateDict(), new Dictionary<string, string> { ["format"] = "pt" });
        });
        var csv = Path.Combine(OutDir, RunFiles.MetricsCsv);
        RunFiles.Writing(csv, kept, () => RunFiles.WriteText(csv, RunFiles.MetricsText(_metrics)));
        var json = Path.Combine(OutDir, RunFiles.ModelJson);
        var description = RunFiles.Describe(Model, Train, Normalize, Options, _metrics);
        if (Fingerprint is not null) description["data_fingerprint"] = Fingerprint.ToString();
        RunFiles.Writing(json, kept, () => RunFiles.WriteText(json, description.ToJsonString(RunFiles.Json)));
    }
}

/// <summary>An option a resume changed: its <see cref="TrainOptions"/> property name and the run's and the new value.</summary>
public sealed record OptionChange(string Option, string Was, string Now)
{
    /// <summary>"Lr 0.005 -> 0.001".</summary>
    public override string ToString() => $"{Option} {Was} -> {Now}";
}
