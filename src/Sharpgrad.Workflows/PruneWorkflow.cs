using System.Globalization;
using System.Text.Json.Nodes;
using Sharpgrad.NN;

namespace Sharpgrad.Workflows;

/// <summary>What <c>sharpgrad prune</c> is asked: the run to prune, the target and the fine-tuning recipe.</summary>
public sealed record PruneOptions
{
    /// <summary>The run folder written by <see cref="TrainWorkflow"/>.</summary>
    public required string Checkpoint { get; init; }

    /// <summary>Target fraction of zero weights in the prunable (Conv2d and Linear) weights, in [0, 0.99]; required unless <see cref="Sweep"/>.</summary>
    public double? Sparsity { get; init; }

    /// <summary>magnitude, global, lamp, obd, sensitivity, structured or random (<see cref="PruneMethod"/>).</summary>
    public string Method { get; init; } = "global";

    /// <summary>Fine-tuning epochs in all (fractions allowed).</summary>
    public double FinetuneEpochs { get; init; } = 3;

    /// <summary>Pruning steps on a cubic schedule up to the target.</summary>
    public int Steps { get; init; } = 5;

    /// <summary>Fine-tuning learning rate (AdamW, cosine to zero).</summary>
    public double Lr { get; init; } = 0.01;

    /// <summary>Only sweep each layer's sensitivity (no pruning).</summary>
    public bool Sweep { get; init; }

    /// <summary>Output folder: required when pruning; a sweep defaults to the run folder.</summary>
    public string? Out { get; init; }

    /// <summary>Kernel threads.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Seed of the fine-tuning shuffles and of random pruning.</summary>
    public ulong Seed { get; init; }

    /// <summary>Fine-tuning batch size.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>Weight of distillation from the unpruned model in the fine-tuning loss, in [0, 1] (0: plain cross-entropy).</summary>
    public double Distill { get; init; } = 0.5;

    /// <summary>Softmax temperature of the distillation term.</summary>
    public double Temperature { get; init; } = 4;

    /// <summary>Fraction of the fine-tuning batches over which the pruning steps are spread, in [0, 1].</summary>
    public double PruneWindow { get; init; } = 0.5;

    /// <summary>The method, parsed.</summary>
    /// <exception cref="OptionException">An unknown method.</exception>
    public PruneMethod ParsedMethod => Method switch
    {
        "magnitude" => PruneMethod.Magnitude,
        "global" => PruneMethod.Global,
        "sensitivity" => PruneMethod.Sensitivity,
        "structured" => PruneMethod.Structured,
        "random" => PruneMethod.Random,
        "lamp" => PruneMethod.Lamp,
        "obd" => PruneMethod.Obd,
        _ => throw new OptionException(nameof(Method), $"unknown method '{Method}'; expected magnitude, global, lamp, obd, sensitivity, structured or random."),
    };

    /// <summary>Checks every option (the output folder's writability is checked by <see cref="PruneWorkflow.Create"/>).</summary>
    /// <exception cref="OptionException">One line naming the option (its property name).</exception>
    public void Validate()
    {
        _ = ParsedMethod;
        if (!Sweep)
        {
            if (Sparsity is null) throw OptionException.Format($"{{0}}: required when pruning (e.g. 0.8), or ask for a {{1}}.", nameof(Sparsity), nameof(Sweep));
            if (!(Sparsity >= 0 && Sparsity <= 0.99)) throw new OptionException(nameof(Sparsity), string.Create(CultureInfo.InvariantCulture, $"expected a fraction in [0, 0.99], got {Sparsity}."));
            if (Out is null) throw new OptionException(nameof(Out), "required when pruning (the pruned model is written there).");
            if (Path.GetFullPath(Out) == Path.GetFullPath(Checkpoint)) throw OptionException.Format("{0}: must differ from {1} (the trained model is kept).", nameof(Out), nameof(Checkpoint));
            // a training run's folder (it has a checkpoint) would get the pruned model.json and weights beside its own
            // checkpoint and metrics, and lose its model; an earlier prune's output may be replaced
            if (File.Exists(Path.Combine(Out, RunFiles.Checkpoint)))
                throw new OptionException(nameof(Out), $"{OptionException.Escape(Out)} holds a training run ({RunFiles.Checkpoint}), whose model the pruned one would replace; choose another folder.");
        }
        if (Threads < 1) throw new OptionException(nameof(Threads), $"expected a positive number, got {Threads}.");
        if (Steps < 1) throw new OptionException(nameof(Steps), $"expected a positive number, got {Steps}.");
        if (!(FinetuneEpochs >= 0) || double.IsInfinity(FinetuneEpochs)) throw new OptionException(nameof(FinetuneEpochs), string.Create(CultureInfo.InvariantCulture, $"expected a non-negative number, got {FinetuneEpochs}."));
        if (!(Lr > 0) || double.IsInfinity(Lr)) throw new OptionException(nameof(Lr), string.Create(CultureInfo.InvariantCulture, $"expected a positive number, got {Lr}."));
        if (BatchSize < 1) throw new OptionException(nameof(BatchSize), $"expected a positive number, got {BatchSize}.");
        if (!(Distill >= 0 && Distill <= 1)) throw new OptionException(nameof(Distill), string.Create(CultureInfo.InvariantCulture, $"expected a weight in [0, 1], got {Distill}."));
        if (!(PruneWindow >= 0 && PruneWindow <= 1)) throw new OptionException(nameof(PruneWindow), string.Create(CultureInfo.InvariantCulture, $"expected a fraction in [0, 1], got {PruneWindow}."));
        if (!(Temperature > 0) || double.IsInfinity(Temperature)) throw new OptionException(nameof(Temperature), string.Create(CultureInfo.InvariantCulture, $"expected a positive number, got {Temperature}."));
    }
}

/// <summary>What a prune reports as it goes; the command line prints it.</summary>
public interface IPruneObserver
{
    /// <summary>A sensitivity sweep begins (on <see cref="PruneWorkflow.Validation"/>).</summary>
    void SweepStarted(PruneWorkflow workflow);

    /// <summary>A sensitivity sweep ended.</summary>
    void SweepCompleted(SensitivityResult sweep);

    /// <summary>The unpruned model was evaluated (test and validation accuracy).</summary>
    void Evaluated(PruneWorkflow workflow, Evaluation test, Evaluation validation);

    /// <summary>The per-layer rates the sensitivity method chose.</summary>
    void RatesChosen(IReadOnlyDictionary<string, double> rates);

    /// <summary>Pruning and fine-tuning begin.</summary>
    void PruningStarted(PruneWorkflow workflow);

    /// <summary>A fine-tuning step ended (running means over the current fine-tuning epoch).</summary>
    void FineTuneStep(int step, int steps, double loss, double accuracy);

    /// <summary>The pruned model was evaluated; its files follow.</summary>
    void Pruned(PruneResult result);
}

/// <summary>The outcome of a prune: accuracy before and after, the sparsity report and the files written.</summary>
public sealed record PruneResult(Evaluation TestBefore, Evaluation ValidationBefore, Evaluation TestAfter, Evaluation ValidationAfter,
    SparsityReport Report, SensitivityResult? Sweep, IReadOnlyList<string> Files);

/// <summary>
/// <c>sharpgrad prune</c>: loads a trained run and its data, holds out the last 5,000 training images (at most a
/// fifth) for validation, then either sweeps each layer's sensitivity (<see cref="PruneOptions.Sweep"/>) or prunes
/// gradually to the target while fine-tuning (<see cref="GradualPruning"/>), and writes model.safetensors, sparsity.txt
/// and model.json (last, so a folder without it is never a half-written model).
/// </summary>
public sealed class PruneWorkflow
{
    private const int ValidationImages = 5000;

    private PruneWorkflow(PruneOptions options, RunFiles.LoadedModel run, DatasetPair data)
    {
        Options = options;
        Run = run;
        Data = data;
        var train = data.Train;
        int held = Math.Min(ValidationImages, train.Count / 5);
        Validation = train.Subset(Enumerable.Range(train.Count - held, held).ToArray(), train.Source + " (validation: last images)");
        FineTuneSet = train.Subset(Enumerable.Range(0, train.Count - held).ToArray(), train.Source + " (fine-tuning: all but the validation images)");
    }

    /// <summary>The options.</summary>
    public PruneOptions Options { get; }

    /// <summary>The run folder (<see cref="PruneOptions.Checkpoint"/>).</summary>
    public string RunFolder => Options.Checkpoint;

    /// <summary>The trained run being pruned (its model is pruned in place).</summary>
    public RunFiles.LoadedModel Run { get; }

    /// <summary>The run's dataset.</summary>
    public DatasetPair Data { get; }

    /// <summary>The held-out validation images (the last of the training set).</summary>
    public ImageDataset Validation { get; }

    /// <summary>The fine-tuning images (the training set less the validation images).</summary>
    public ImageDataset FineTuneSet { get; }

    /// <summary>The folder files are written to.</summary>
    public string OutDir => Options.Out ?? Options.Checkpoint;

    /// <summary>
    /// Validates the options, checks the output folder is writable (before any work), loads the run and its data.
    /// </summary>
    /// <exception cref="OptionException">A bad option or an unwritable output folder.</exception>
    /// <exception cref="DataException">A bad run folder or dataset.</exception>
    public static PruneWorkflow Create(PruneOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        RunFiles.CheckOutFolder(options.Out ?? options.Checkpoint, overwrite: true, resuming: false, option: nameof(PruneOptions.Out));
        var run = RunFiles.Load(options.Checkpoint);
        var data = DataSources.Load(run.Recipe.Data, run.Recipe.DataDir);
        return new PruneWorkflow(options, run, data);
    }

    /// <summary>
    /// The sensitivity sweep alone (<see cref="PruneOptions.Sweep"/>): each layer pruned alone at several sparsities,
    /// accuracy on the validation images; writes sensitivity.csv (and sensitivity.png through
    /// <paramref name="plotSensitivity"/> when given) to <see cref="OutDir"/>.
    /// </summary>
    /// <exception cref="DataException">A file could not be written.</exception>
    public SensitivityResult RunSweep(IPruneObserver observer, Action<string, SensitivityResult>? plotSensitivity = null)
    {
        ArgumentNullException.ThrowIfNull(observer);
        using var threadScope = Parallelism.UseThreads(Options.Threads);
        observer.SweepStarted(this);
        var s = Sensitivity.Sweep(Run.Model, ValidationLoader(), Run.Classes.Length);
        observer.SweepCompleted(s);
        RunFiles.Writing(OutDir, "nothing else was changed", () =>
        {
            Directory.CreateDirectory(OutDir);
            WriteSweep(OutDir, s, plotSensitivity);
        });
        return s;
    }

    /// <summary>
    /// Prunes to <see cref="PruneOptions.Sparsity"/> while fine-tuning (with <see cref="PruneOptions.Threads"/> kernel
    /// threads), evaluates before and after, and writes the pruned run; <paramref name="plotSensitivity"/> draws
    /// sensitivity.png (path, sweep) for the sensitivity method when given.
    /// </summary>
    /// <exception cref="DataException">A file could not be written (one line naming it and what was kept).</exception>
    public PruneResult Prune(IPruneObserver observer, Action<string, SensitivityResult>? plotSensitivity = null)
    {
        ArgumentNullException.ThrowIfNull(observer);
        using var threadScope = Parallelism.UseThreads(Options.Threads);
        var model = Run.Model;
        int classes = Run.Classes.Length;
        var valLoader = ValidationLoader();
        var testLoader = new DataLoader(Data.Test, 1000, transforms: [Run.Normalize]);
        var before = TrainingLoop.Evaluate(model, testLoader, classes);
        var valBefore = TrainingLoop.Evaluate(model, valLoader, classes);
        observer.Evaluated(this, before, valBefore);
        var method = Options.ParsedMethod;
        double target = Options.Sparsity!.Value;
        SensitivityResult? sens = null;
        if (method == PruneMethod.Sensitivity)
        {
            observer.SweepStarted(this);
            sens = Sensitivity.Sweep(model, valLoader, classes);
            observer.SweepCompleted(sens);
            observer.RatesChosen(sens.ChooseRates(target));
        }
        var trainLoader = new DataLoader(FineTuneSet, Options.BatchSize, shuffle: true, seed: Options.Seed, transforms: Run.Recipe.TrainingTransforms(Run.Normalize));
        observer.PruningStarted(this);
        var teacher = Options.Distill > 0 ? RunFiles.Load(Options.Checkpoint).Model : null;
        GradualPruning.Run(model, trainLoader, method, target, Options.Steps, Options.FinetuneEpochs, Options.Lr, sens,
            new FineTuneObserver(observer), new Generator(Options.Seed), pruneWindow: Options.PruneWindow, teacher: teacher,
            temperature: Options.Temperature, distillWeight: Options.Distill);
        Pruner.MakePermanent(model);
        var after = TrainingLoop.Evaluate(model, testLoader, classes);
        var valAfter = TrainingLoop.Evaluate(model, valLoader, classes);
        var report = SparsityReport.Of(model);
        var files = new List<string> { RunFiles.Weights, RunFiles.ModelJson, "sparsity.txt" };
        if (sens is not null) files.AddRange(SweepFiles(plotSensitivity));
        var result = new PruneResult(before, valBefore, after, valAfter, report, sens, files);
        observer.Pruned(result);
        Save(result, plotSensitivity);
        return result;
    }

    private DataLoader ValidationLoader() => new(Validation, 1000, transforms: [Run.Normalize]);

    private static List<string> SweepFiles(Action<string, SensitivityResult>? plot) => plot is null ? ["sensitivity.csv"] : ["sensitivity.csv", "sensitivity.png"];

    // model.json last: a folder without it is not a model, so an interrupted write never pairs new weights with an old description
    private void Save(PruneResult result, Action<string, SensitivityResult>? plotSensitivity)
    {
        const string kept = "the pruned model was not kept (rerun the command)";
        string outPath = OutDir;
        var jsonPath = Path.Combine(outPath, RunFiles.ModelJson);
        var weightsPath = Path.Combine(outPath, RunFiles.Weights);
        RunFiles.Writing(outPath, kept, () =>
        {
            Directory.CreateDirectory(outPath);
            RunFiles.RemoveStaleTemps(outPath);
            File.Delete(jsonPath);
        });
        RunFiles.Writing(weightsPath, kept, () => SafeTensors.Write(weightsPath, Run.Model.StateDict(), new Dictionary<string, string> { ["format"] = "pt" }));
        var desc = (JsonObject)Run.Description.DeepClone();
        desc["pruning"] = new JsonObject
        {
            ["from"] = Path.GetFullPath(Options.Checkpoint),
            ["method"] = Options.ParsedMethod.ToString().ToLowerInvariant(),
            ["target_sparsity"] = Options.Sparsity,
            ["sparsity"] = result.Report.Sparsity,
            ["steps"] = Options.Steps,
            ["finetune_epochs"] = Options.FinetuneEpochs,
            ["finetune_images"] = FineTuneSet.Count,
            ["validation_accuracy_before"] = result.ValidationBefore.Accuracy,
            ["validation_accuracy_after"] = result.ValidationAfter.Accuracy,
            ["test_accuracy_before"] = result.TestBefore.Accuracy,
            ["test_accuracy_after"] = result.TestAfter.Accuracy,
        };
        RunFiles.Writing(Path.Combine(outPath, "sparsity.txt"), kept, () =>
        {
            RunFiles.WriteText(Path.Combine(outPath, "sparsity.txt"), result.Report.ToText());
            if (result.Sweep is not null) WriteSweep(outPath, result.Sweep, plotSensitivity);
        });
        RunFiles.Writing(jsonPath, kept, () => RunFiles.WriteText(jsonPath, desc.ToJsonString(RunFiles.Json)));
    }

    private static void WriteSweep(string dir, SensitivityResult s, Action<string, SensitivityResult>? plot)
    {
        var csv = new System.Text.StringBuilder("layer,weights," + string.Join(",", s.Sparsities.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "\n");
        foreach (var (layer, n, acc) in s.Layers)
            csv.AppendLine(layer + "," + n + "," + string.Join(",", acc.Select(a => a.ToString("R", CultureInfo.InvariantCulture))));
        RunFiles.WriteText(Path.Combine(dir, "sensitivity.csv"), csv.ToString());
        plot?.Invoke(Path.Combine(dir, "sensitivity.png"), s);
    }

    private sealed class FineTuneObserver(IPruneObserver observer) : ITrainingObserver
    {
        public void EpochStarted(int epoch, int epochs, int steps) { }

        public void StepCompleted(int epoch, int step, int steps, double loss, double accuracy, double imagesPerSecond) =>
            observer.FineTuneStep(step, steps, loss, accuracy);

        public void EpochCompleted(EpochMetrics metrics) { }
    }
}
