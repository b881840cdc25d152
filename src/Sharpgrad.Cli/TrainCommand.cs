using System.CommandLine;
using System.Globalization;
using Sharpgrad.NN;
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
        var resume = new Option<string?>("--resume") { Description = "Continue from the checkpoint in this folder; --epochs is the new total." };
        var cmd = new Command("train", "Train a model, by default the exam CNN (on the bundled Fashion-MNIST, AdamW + one-cycle to 0.005, L1 1e-4, random flips, batch 128, 15 epochs).")
        {
            model, data, epochs, batch, optimizer, lr, wd, l1, dropout, augment, schedule, seed, threads, limit, testLimit, outDir, resume,
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
            return Train(options, outPath, resumeDir, r.InvocationConfiguration.Output);
        }));
        return cmd;
    }

    private static int Train(TrainOptions options, string outDir, string? resumeDir, TextWriter output)
    {
        bool existed = Directory.Exists(outDir);
        var trainer = Trainer.Create(options, outDir, resumeDir);
        var console = SharpgradCli.ConsoleFor(output);
        var o = trainer.Options;
        output.WriteLine($"Sharpgrad: {(o.IsBuiltInModel ? o.Model : Path.GetFileName(o.Model))} on {trainer.Data.Name} ({trainer.Train.Count:N0} training, {trainer.Test.Count:N0} test images, "
            + $"{trainer.Train.Channels}x{trainer.Train.Height}x{trainer.Train.Width}), {trainer.Model.ParameterCount():N0} parameters");
        output.WriteLine($"recipe: {o.Optimizer} lr {o.EffectiveLr.ToString("g", CultureInfo.InvariantCulture)} ({o.Schedule}), weight decay {o.WeightDecay.ToString("g", CultureInfo.InvariantCulture)}, "
            + $"batch {o.BatchSize}, epochs {o.Epochs}{(trainer.StartEpoch > 0 ? $" (resuming after epoch {trainer.StartEpoch})" : "")}, "
            + $"seed {o.Seed}, threads {o.Threads}{(o.Augment.Length > 0 ? $", augment {o.Augment}" : "")}{(o.Dropout > 0 ? $", dropout {o.Dropout}" : "")}{(o.L1 > 0 ? $", l1 {o.L1}" : "")}; output {outDir}");
        var started = DateTime.UtcNow;
        Evaluation result;
        try
        {
            if (console.Profile.Capabilities.Interactive)
            {
                var line = new ProgressLineColumn();
                result = console.Progress()
                    .AutoClear(false)
                    .HideCompleted(false)
                    .Columns(line)
                    .Start(ctx => trainer.Run(new LiveObserver(ctx, line)));
            }
            else
            {
                result = trainer.Run(new PlainObserver(output));
            }
        }
        catch (DivergedException)
        {
            RemoveIfEmpty(outDir, existed);
            throw;
        }
        catch (OperationCanceledException)
        {
            RemoveIfEmpty(outDir, existed);
            throw;
        }
        Plots.WriteAll(outDir, trainer.Metrics, result.Confusion, trainer.Train.ClassNames);
        var total = DateTime.UtcNow - started;
        output.WriteLine($"test accuracy {SharpgradCli.Percent(result.Accuracy)}, test loss {result.Loss.ToString("F4", CultureInfo.InvariantCulture)}, wall time {total.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        output.WriteLine($"wrote {RunFiles.Weights}, {RunFiles.ModelJson}, {RunFiles.MetricsCsv}, {RunFiles.Checkpoint}, {Plots.Loss}, {Plots.Accuracy}, {Plots.Confusion} to {outDir}");
        return 0;
    }

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
