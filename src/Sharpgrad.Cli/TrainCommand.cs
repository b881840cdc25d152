using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Sharpgrad.NN;
using Sharpgrad.Workflows;
using Spectre.Console;

namespace Sharpgrad.Cli;

/// <summary>`sharpgrad train`: trains the exam CNN and writes weights, metrics, plots and a checkpoint.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var d = new TrainOptions();
        var data = new Option<string[]>("--data")
        {
            Description = "Dataset: fashion-mnist (bundled, default) | mnist-idx DIR | cifar10 DIR | folder DIR.",
            Arity = new ArgumentArity(1, 2),
            AllowMultipleArgumentsPerToken = true,
        };
        var model = new Option<string>("--model")
        {
            Description = $"The network: {string.Join(" | ", Models.Names)} (default exam-cnn), or a model file (sharpgrad-model/1 JSON, see the README).",
            DefaultValueFactory = _ => d.Model,
        };
        var epochs = new Option<int>("--epochs") { Description = "Total epochs.", DefaultValueFactory = _ => d.Epochs };
        var batch = new Option<int>("--batch-size") { Description = "Images per batch.", DefaultValueFactory = _ => d.BatchSize };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd | rmsprop | adam | adamw.", DefaultValueFactory = _ => d.Optimizer };
        var lr = new Option<double?>("--lr") { Description = "Learning rate (peak rate under one-cycle); default 0.005 for adam/adamw, 0.1 for sgd, 0.001 for rmsprop." };
        var wd = new Option<double>("--weight-decay") { Description = "Weight decay (decoupled for adamw, L2 in the gradient otherwise).", DefaultValueFactory = _ => d.WeightDecay };
        var l1 = new Option<double>("--l1") { Description = "L1 penalty on the Conv2d and Linear weights, applied by its proximal step (drives weights to exactly zero; the default 1e-4 makes the model prune well; 0: none).", DefaultValueFactory = _ => d.L1 };
        var smoothing = new Option<double>("--label-smoothing") { Description = "Label smoothing eps of the training loss, in [0, 1] (as PyTorch's CrossEntropyLoss label_smoothing; 0: none).", DefaultValueFactory = _ => d.LabelSmoothing };
        var ema = new Option<double>("--ema") { Description = "Evaluate and save an exponential moving average of the weights with this decay, in [0, 1) (e.g. 0.999; 0: none).", DefaultValueFactory = _ => d.Ema };
        var tta = new Option<string>("--tta") { Description = "Test-time augmentation of the evaluations: none, or flip (the mean logits of each test image and its mirror; for models trained with --augment flip).", DefaultValueFactory = _ => d.Tta };
        var dropout = new Option<double>("--dropout") { Description = "Dropout probability before a built-in model's last Linear layer.", DefaultValueFactory = _ => 0 };
        var augment = new Option<string?>("--augment")
        {
            Description = "Augment training images: none, flip (random horizontal flip, the default), crop (random crop, padding 2) or flip,crop; alone: flip,crop.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var schedule = new Option<string>("--schedule") { Description = "onecycle | cosine | step | none.", DefaultValueFactory = _ => d.Schedule };
        var seed = new Option<ulong>("--seed") { Description = "Seed of initialisation, shuffling, augmentation and dropout.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Kernel threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var limit = new Option<int?>("--limit") { Description = "Train on the first N training images only." };
        var testLimit = new Option<int?>("--test-limit") { Description = "Evaluate on the first N test images only." };
        var outDir = new Option<string?>("--out") { Description = "Output folder (default runs/<dataset>-<time>, or the --resume folder)." };
        var resume = new Option<string?>("--resume") { Description = "Continue from the checkpoint in this folder; --epochs is the new total; --lr, --batch-size, --threads, --weight-decay, --l1, --augment, --test-limit, --tta and the data folder may change, the rest may not. A finished run's final files are rewritten." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the run (or use the folder) that --out already holds; without it such an --out is refused." };
        var cmd = new Command("train", "Train a model, by default the exam CNN (on the bundled Fashion-MNIST, AdamW + one-cycle to 0.005, L1 1e-4, random flips, batch 128, 15 epochs).")
        {
            model, data, epochs, batch, optimizer, lr, wd, l1, smoothing, ema, tta, dropout, augment, schedule, seed, threads, limit, testLimit, outDir, resume, overwrite,
        };
        cmd.SetAction(r => SharpgradCli.Guard(r.InvocationConfiguration.Error, () =>
        {
            if (r.GetValue(resume) is not null && r.GetResult(model) is { Implicit: false })
                throw new ArgumentException("--model: a resumed run keeps the model its checkpoint describes; drop --model, or start a new run with --out.");
            var dataArgs = r.GetValue(data) ?? [];
            var options = new TrainOptions
            {
                Model = r.GetValue(model)!,
                Data = dataArgs.Length > 0 ? dataArgs[0] : d.Data,
                DataDir = dataArgs.Length > 1 ? dataArgs[1] : null,
                Epochs = r.GetValue(epochs),
                BatchSize = r.GetValue(batch),
                Optimizer = r.GetValue(optimizer)!,
                Lr = r.GetValue(lr),
                WeightDecay = r.GetValue(wd),
                L1 = r.GetValue(l1),
                LabelSmoothing = r.GetValue(smoothing),
                Ema = r.GetValue(ema),
                Tta = r.GetValue(tta)!,
                Dropout = r.GetValue(dropout),
                Augment = r.GetResult(augment) is null ? d.Augment : (r.GetValue(augment) ?? "flip,crop") is "none" ? "" : r.GetValue(augment) ?? "flip,crop",
                Schedule = r.GetValue(schedule)!,
                Seed = r.GetValue(seed),
                Threads = r.GetValue(threads),
                Limit = r.GetValue(limit),
                TestLimit = r.GetValue(testLimit),
            };
            var resumeDir = r.GetValue(resume);
            var outPath = r.GetValue(outDir) ?? resumeDir
                ?? Path.Combine("runs", $"{options.Data}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
            // the options the user gave: on --resume they replace the checkpoint's where they may, and are refused where they may not
            var given = new HashSet<string>(StringComparer.Ordinal);
            void Given(Option o, params string[] names)
            {
                if (r.GetResult(o) is { Implicit: false }) given.UnionWith(names);
            }
            Given(data, nameof(TrainOptions.Data), nameof(TrainOptions.DataDir));
            Given(epochs, nameof(TrainOptions.Epochs));
            Given(batch, nameof(TrainOptions.BatchSize));
            Given(optimizer, nameof(TrainOptions.Optimizer));
            Given(lr, nameof(TrainOptions.Lr));
            Given(wd, nameof(TrainOptions.WeightDecay));
            Given(l1, nameof(TrainOptions.L1));
            Given(smoothing, nameof(TrainOptions.LabelSmoothing));
            Given(ema, nameof(TrainOptions.Ema));
            Given(tta, nameof(TrainOptions.Tta));
            Given(dropout, nameof(TrainOptions.Dropout));
            Given(augment, nameof(TrainOptions.Augment));
            Given(schedule, nameof(TrainOptions.Schedule));
            Given(seed, nameof(TrainOptions.Seed));
            Given(threads, nameof(TrainOptions.Threads));
            Given(limit, nameof(TrainOptions.Limit));
            Given(testLimit, nameof(TrainOptions.TestLimit));
            if (resumeDir is not null && r.GetResult(epochs) is null or { Implicit: true })
                given.Remove(nameof(TrainOptions.Epochs)); // resuming without --epochs keeps the run's total
            var trainer = TrainWorkflow.Create(options, outPath, resumeDir, given, r.GetValue(overwrite));
            return Train(trainer, outPath, r.InvocationConfiguration.Output, r.InvocationConfiguration.Error);
        }));
        return cmd;
    }

    private static int Train(TrainWorkflow trainer, string outDir, TextWriter output, TextWriter error)
    {
        bool existed = Directory.Exists(outDir);
        var console = SharpgradCli.ConsoleFor(output);
        var o = trainer.Options;
        output.WriteLine($"Sharpgrad: {(o.IsBuiltInModel ? o.Model : Path.GetFileName(o.Model))} on {trainer.Data.Name} ({trainer.Train.Count:N0} training, {trainer.Test.Count:N0} test images, "
            + $"{trainer.Train.Channels}x{trainer.Train.Height}x{trainer.Train.Width}), {trainer.Model.ParameterCount():N0} parameters");
        output.WriteLine($"recipe: {o.Optimizer} lr {o.EffectiveLr.ToString("g", CultureInfo.InvariantCulture)} ({o.Schedule}), weight decay {o.WeightDecay.ToString("g", CultureInfo.InvariantCulture)}, "
            + $"batch {o.BatchSize}, epochs {o.Epochs}{(trainer.StartEpoch > 0 ? $" (resuming after epoch {trainer.StartEpoch})" : "")}, "
            + $"seed {o.Seed}, threads {o.Threads}{(o.Augment.Length > 0 ? $", augment {o.Augment}" : "")}{(o.Dropout > 0 ? $", dropout {o.Dropout}" : "")}{(o.L1 > 0 ? $", l1 {o.L1}" : "")}"
            + $"{(o.LabelSmoothing > 0 ? $", label smoothing {o.LabelSmoothing.ToString("g", CultureInfo.InvariantCulture)}" : "")}{(o.Ema > 0 ? $", ema {o.Ema.ToString("g", CultureInfo.InvariantCulture)}" : "")}{(o.Tta == "flip" ? ", tta flip" : "")}; output {outDir}");
        if (trainer.Changes.Count > 0) output.WriteLine($"resume changes: {string.Join(", ", trainer.Changes.Select(c => $"{Flags.Of(c.Option)} {c.Was} -> {c.Now}"))}");
        var started = DateTime.UtcNow;
        Evaluation result;
        // the plots follow every epoch, like metrics.csv
        trainer.EpochWritten = (metrics, ev) => WritePlots(outDir, metrics, ev, trainer.Train.ClassNames);
        // Ctrl-C or SIGTERM: the current step finishes, nothing is left half-written, the last checkpoint is kept; a second signal ends at once
        using var cancel = new CancellationTokenSource();
        string? signal = null;
        void OnSignal(PosixSignalContext ctx)
        {
            if (cancel.IsCancellationRequested) return;
            ctx.Cancel = true;
            signal = ctx.Signal == PosixSignal.SIGINT ? "SIGINT (Ctrl-C)" : "SIGTERM";
            cancel.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        try
        {
            if (console.Profile.Capabilities.Interactive)
            {
                var line = new ProgressLineColumn();
                result = console.Progress()
                    .AutoClear(false)
                    .HideCompleted(false)
                    .Columns(line)
                    .Start(ctx => trainer.Run(new LiveObserver(ctx, line), cancel.Token));
            }
            else
            {
                result = trainer.Run(new PlainObserver(output), cancel.Token);
            }
        }
        catch (DivergedException)
        {
            RemoveIfEmpty(outDir, existed);
            throw;
        }
        catch (OperationCanceledException) when (signal is not null)
        {
            RemoveIfEmpty(outDir, existed);
            int done = trainer.Metrics.Count;
            error.WriteLine(done == 0
                ? $"interrupted by {signal} in epoch 1: stopped before the first checkpoint; nothing was kept."
                : $"interrupted by {signal} in epoch {done + 1}: the step was finished, nothing is half-written; kept the checkpoint after epoch {done} in {outDir}; continue with: sharpgrad train --resume {outDir}");
            return signal == "SIGTERM" ? 143 : 130;
        }
        WritePlots(outDir, trainer.Metrics, result, trainer.Train.ClassNames);
        var total = DateTime.UtcNow - started;
        output.WriteLine($"test accuracy {SharpgradCli.Percent(result.Accuracy)}, test loss {result.Loss.ToString("F4", CultureInfo.InvariantCulture)}, wall time {total.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        output.WriteLine($"wrote {RunFiles.Weights}, {RunFiles.ModelJson}, {RunFiles.MetricsCsv}, {RunFiles.Checkpoint}, {Plots.Loss}, {Plots.Accuracy}, {Plots.Confusion} to {outDir}");
        return 0;
    }

    private static void WritePlots(string dir, IReadOnlyList<EpochMetrics> metrics, Evaluation ev, IReadOnlyList<string> classes) =>
        RunFiles.Writing(dir, $"the plots were not updated; the checkpoint after epoch {metrics.Count} is written",
            () => Plots.WriteAll(dir, metrics, ev.Confusion, classes));

    private static void RemoveIfEmpty(string dir, bool existed)
    {
        if (!existed && Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
    }

    private static string EpochLine(EpochMetrics m, int epochs) =>
        string.Create(CultureInfo.InvariantCulture,
            $"epoch {m.Epoch}/{epochs}  train loss {m.TrainLoss:F4} acc {SharpgradCli.Percent(m.TrainAccuracy)}  test loss {m.TestLoss:F4} acc {SharpgradCli.Percent(m.TestAccuracy)}  {m.Seconds:F1} s");

    /// <summary>A progress line per epoch (<see cref="ProgressLine"/>); a finished epoch's line keeps its metrics.</summary>
    internal sealed class LiveObserver(ProgressContext ctx, ProgressLineColumn line) : ITrainingObserver
    {
        private ProgressTask? _task;
        private int _epochs, _startEpoch;
        private long _lastDraw;
        private readonly System.Diagnostics.Stopwatch _clock = new();

        public void EpochStarted(int epoch, int epochs, int steps)
        {
            if (!_clock.IsRunning)
            {
                _clock.Start();
                _startEpoch = epoch;
            }
            _epochs = epochs;
            _task = ctx.AddTask($"epoch {epoch}/{epochs}", maxValue: steps);
            line.Set(_task, new ProgressFields(epoch, epochs, 0, steps, double.NaN, double.NaN, 0, null));
        }

        public void StepCompleted(int epoch, int step, int steps, double loss, double accuracy, double imagesPerSecond)
        {
            if (_task is null) return;
            long now = Environment.TickCount64;
            if (now - _lastDraw < 100 && step < steps) return;
            _lastDraw = now;
            // the whole run's time left, from its pace so far
            long remainingSteps = (long)(_epochs - epoch) * steps + (steps - step);
            long doneSteps = (long)(epoch - _startEpoch) * steps + step;
            TimeSpan? left = doneSteps > 0 ? TimeSpan.FromSeconds(_clock.Elapsed.TotalSeconds / doneSteps * remainingSteps) : null;
            line.Set(_task, new ProgressFields(epoch, _epochs, step, steps, loss, accuracy, imagesPerSecond, left));
            _task.Value = step;
        }

        public void EpochCompleted(EpochMetrics metrics)
        {
            if (_task is null) return;
            line.Set(_task, new ProgressFields(metrics.Epoch, _epochs, 0, 0, 0, 0, 0, null, metrics));
            _task.Value = _task.MaxValue;
            _task.StopTask();
        }
    }

    /// <summary>Plain lines when the output is not a terminal: a few progress lines per epoch, then the epoch's metrics.</summary>
    private sealed class PlainObserver(TextWriter output) : ITrainingObserver
    {
        private int _epochs;

        public void EpochStarted(int epoch, int epochs, int steps) => _epochs = epochs;

        public void StepCompleted(int epoch, int step, int steps, double loss, double accuracy, double imagesPerSecond)
        {
            int every = Math.Max(1, steps / 4);
            if (step % every != 0 || step == steps) return;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  epoch {epoch}/{_epochs} step {step}/{steps}  loss {loss:F4}  acc {SharpgradCli.Percent(accuracy)}  {imagesPerSecond:N0} img/s"));
        }

        public void EpochCompleted(EpochMetrics metrics) => output.WriteLine(EpochLine(metrics, _epochs));
    }
}
