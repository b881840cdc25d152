using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Sharpgrad.NN;

namespace Sharpgrad.Cli;

/// <summary>`sharpgrad prune`: prune a trained run and fine-tune it, or sweep each layer's sensitivity.</summary>
internal static class PruneCommand
{
    private const int ValidationImages = 5000;

    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Run folder written by sharpgrad train (or a file in it, e.g. RUN/checkpoint.safetensors).", Required = true };
        var sparsity = new Option<double?>("--sparsity") { Description = "Target fraction of zero weights in the Conv2d and Linear weights, e.g. 0.8." };
        var method = new Option<string>("--method") { Description = "magnitude (per layer) | global | lamp (global on layer-normalized scores) | obd (global on second-order saliency w^2 E[g^2]) | sensitivity | structured (whole filters) | random.", DefaultValueFactory = _ => "global" };
        var finetune = new Option<double>("--finetune-epochs") { Description = "Fine-tuning epochs in all, on the training images less the 5,000 held out for validation; the pruning steps fall in the first --prune-window of them.", DefaultValueFactory = _ => 3 };
        var steps = new Option<int>("--steps") { Description = "Pruning steps on a cubic schedule up to the target.", DefaultValueFactory = _ => 5 };
        var lr = new Option<double>("--lr") { Description = "Fine-tuning learning rate (AdamW, cosine to zero).", DefaultValueFactory = _ => 0.01 };
        var sweep = new Option<bool>("--sweep") { Description = "Only run the sensitivity sweep: the table, sensitivity.csv and sensitivity.png." };
        var outDir = new Option<string?>("--out") { Description = "Output folder (required when pruning; the sweep defaults to the checkpoint folder)." };
        var threads = new Option<int>("--threads") { Description = "Kernel threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<ulong>("--seed") { Description = "Seed of fine-tuning shuffles and random pruning.", DefaultValueFactory = _ => 0 };
        var batchSize = new Option<int>("--batch-size") { Description = "Fine-tuning batch size.", DefaultValueFactory = _ => 64 };
        var distill = new Option<double>("--distill") { Description = "Weight of distillation from the unpruned model in the fine-tuning loss (0: plain cross-entropy).", DefaultValueFactory = _ => 0.5 };
        var temperature = new Option<double>("--temperature") { Description = "Softmax temperature of the distillation term.", DefaultValueFactory = _ => 4 };
        var window = new Option<double>("--prune-window") { Description = "Fraction of the fine-tuning batches over which the pruning steps are spread (the rest fine-tunes at the target).", DefaultValueFactory = _ => 0.5 };
        var cmd = new Command("prune", "Prune a trained model to sparse weights and fine-tune it, or sweep per-layer sensitivity (--sweep).")
        {
            checkpoint, sparsity, method, finetune, steps, lr, sweep, outDir, threads, seed, distill, temperature, window, batchSize,
        };
        cmd.SetAction(r => SharpgradCli.Guard(r.InvocationConfiguration.Error, () =>
        {
            var output = r.InvocationConfiguration.Output;
            string ckpt = SharpgradCli.RunFolder(r.GetValue(checkpoint)!);
            bool onlySweep = r.GetValue(sweep);
            double? target = r.GetValue(sparsity);
            string? outPath = r.GetValue(outDir);
            var m = ParseMethod(r.GetValue(method)!);
            if (!onlySweep)
            {
                if (target is null) throw new ArgumentException("--sparsity: required when pruning (e.g. --sparsity 0.8), or pass --sweep.");
                if (!(target >= 0 && target <= 0.99)) throw new ArgumentException($"--sparsity: expected a fraction in [0, 0.99], got {target}.");
                if (outPath is null) throw new ArgumentException("--out: required when pruning (the pruned model is written there).");
                if (Path.GetFullPath(outPath) == Path.GetFullPath(ckpt)) throw new ArgumentException("--out: must differ from --checkpoint (the trained model is kept).");
            }
            int t = r.GetValue(threads);
            if (t < 1) throw new ArgumentException($"--threads: expected a positive number, got {t}.");
            // the output folder must be writable before any work (a sweep writes to the checkpoint folder by default)
            RunFiles.CheckOutFolder(outPath ?? ckpt, overwrite: true, resuming: false);
            if (r.GetValue(steps) < 1) throw new ArgumentException($"--steps: expected a positive number, got {r.GetValue(steps)}.");
            if (!(r.GetValue(finetune) >= 0)) throw new ArgumentException($"--finetune-epochs: expected a non-negative number, got {r.GetValue(finetune)}.");
            if (!(r.GetValue(lr) > 0)) throw new ArgumentException($"--lr: expected a positive number, got {r.GetValue(lr)}.");
            int bs = r.GetValue(batchSize);
            if (bs < 1) throw new ArgumentException($"--batch-size: expected a positive number, got {bs}.");
            double kd = r.GetValue(distill);
            if (!(kd >= 0 && kd <= 1)) throw new ArgumentException($"--distill: expected a weight in [0, 1], got {kd}.");
            double win = r.GetValue(window);
            if (!(win >= 0 && win <= 1)) throw new ArgumentException($"--prune-window: expected a fraction in [0, 1], got {win}.");
            double temp = r.GetValue(temperature);
            if (!(temp > 0)) throw new ArgumentException($"--temperature: expected a positive number, got {temp}.");
            using var threadScope = Sharpgrad.Parallelism.UseThreads(t);

            var loaded = RunFiles.Load(ckpt);
            var data = DataSources.Load(loaded.Recipe.Data, loaded.Recipe.DataDir);
            var train = data.Train;
            int held = Math.Min(ValidationImages, train.Count / 5);
            var validation = train.Subset(Enumerable.Range(train.Count - held, held).ToArray(), train.Source + " (validation: last images)");
            var fineTuneSet = train.Subset(Enumerable.Range(0, train.Count - held).ToArray(), train.Source + " (fine-tuning: all but the validation images)");
            var valLoader = new DataLoader(validation, 1000, transforms: [loaded.Normalize]);
            var testLoader = new DataLoader(data.Test, 1000, transforms: [loaded.Normalize]);
            int classes = loaded.Classes.Length;

            if (onlySweep)
            {
                var dir = outPath ?? ckpt;
                output.WriteLine($"sensitivity sweep of {ckpt} on {validation.Count:N0} validation images (the last of the training set)");
                var s = Sensitivity.Sweep(loaded.Model, valLoader, classes);
                output.Write(s.ToText());
                RunFiles.Writing(dir, "nothing else was changed", () =>
                {
                    Directory.CreateDirectory(dir);
                    WriteSweep(dir, s);
                });
                output.WriteLine($"wrote sensitivity.csv and sensitivity.png to {dir}");
                return 0;
            }

            var before = Trainer.Evaluate(loaded.Model, testLoader, classes);
            var valBefore = Trainer.Evaluate(loaded.Model, valLoader, classes);
            output.WriteLine($"{ckpt}: test accuracy {SharpgradCli.Percent(before.Accuracy)} (validation {SharpgradCli.Percent(valBefore.Accuracy)}) before pruning; {SparsityReport.Of(loaded.Model).Sparsity * 100:F1}% of the prunable weights are zero");
            SensitivityResult? sens = null;
            if (m == PruneMethod.Sensitivity)
            {
                output.WriteLine($"sensitivity sweep on {validation.Count:N0} validation images ...");
                sens = Sensitivity.Sweep(loaded.Model, valLoader, classes);
                output.Write(sens.ToText());
                var rates = sens.ChooseRates(target!.Value);
                output.WriteLine("chosen rates: " + string.Join(", ", rates.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value * 100:F1}%"))));
            }
            var transforms = loaded.Recipe.TrainingTransforms(loaded.Normalize);
            var trainLoader = new DataLoader(fineTuneSet, bs, shuffle: true, seed: r.GetValue(seed), transforms: transforms);
            output.WriteLine($"pruning to {target * 100:F0}% ({m.ToString().ToLowerInvariant()}) in {r.GetValue(steps)} cubic steps with {r.GetValue(finetune)} fine-tuning epochs in all on {fineTuneSet.Count:N0} images");
            var teacher = kd > 0 ? RunFiles.Load(ckpt).Model : null;
            GradualPruning.Run(loaded.Model, trainLoader, m, target!.Value, r.GetValue(steps), r.GetValue(finetune), r.GetValue(lr), sens,
                new FineTuneObserver(output), new Generator(r.GetValue(seed)), pruneWindow: win, teacher: teacher, temperature: temp, distillWeight: kd);
            Pruner.MakePermanent(loaded.Model);
            var after = Trainer.Evaluate(loaded.Model, testLoader, classes);
            var valAfter = Trainer.Evaluate(loaded.Model, valLoader, classes);
            var report = SparsityReport.Of(loaded.Model);
            output.Write(report.ToText());
            output.WriteLine($"validation accuracy {SharpgradCli.Percent(valAfter.Accuracy)} after pruning (was {SharpgradCli.Percent(valBefore.Accuracy)}: {(valAfter.Accuracy - valBefore.Accuracy) * 100:+0.00;-0.00} points)");
            output.WriteLine($"test accuracy {SharpgradCli.Percent(after.Accuracy)} after pruning (was {SharpgradCli.Percent(before.Accuracy)}: {(after.Accuracy - before.Accuracy) * 100:+0.00;-0.00} points)");

            // model.json last: a folder without it is not a model, so an interrupted write never pairs new weights with an old description
            const string kept = "the pruned model was not kept (rerun the command)";
            var jsonPath = Path.Combine(outPath!, RunFiles.ModelJson);
            var weightsPath = Path.Combine(outPath!, RunFiles.Weights);
            RunFiles.Writing(outPath!, kept, () =>
            {
                Directory.CreateDirectory(outPath!);
                RunFiles.RemoveStaleTemps(outPath!);
                File.Delete(jsonPath);
            });
            RunFiles.Writing(weightsPath, kept, () => SafeTensors.Write(weightsPath, loaded.Model.StateDict(), new Dictionary<string, string> { ["format"] = "pt" }));
            var desc = (JsonObject)loaded.Description.DeepClone();
            desc["pruning"] = new JsonObject
            {
                ["from"] = Path.GetFullPath(ckpt),
                ["method"] = m.ToString().ToLowerInvariant(),
                ["target_sparsity"] = target,
                ["sparsity"] = report.Sparsity,
                ["steps"] = r.GetValue(steps),
                ["finetune_epochs"] = r.GetValue(finetune),
                ["finetune_images"] = fineTuneSet.Count,
                ["validation_accuracy_before"] = valBefore.Accuracy,
                ["validation_accuracy_after"] = valAfter.Accuracy,
                ["test_accuracy_before"] = before.Accuracy,
                ["test_accuracy_after"] = after.Accuracy,
            };
            RunFiles.Writing(Path.Combine(outPath!, "sparsity.txt"), kept, () =>
            {
                RunFiles.WriteText(Path.Combine(outPath!, "sparsity.txt"), report.ToText());
                if (sens is not null) WriteSweep(outPath!, sens);
            });
            RunFiles.Writing(jsonPath, kept, () => RunFiles.WriteText(jsonPath, desc.ToJsonString(RunFiles.Json)));
            output.WriteLine($"wrote {RunFiles.Weights}, {RunFiles.ModelJson}, sparsity.txt{(sens is null ? "" : ", sensitivity.csv, sensitivity.png")} to {outPath}");
            return 0;
        }));
        return cmd;
    }

    private static PruneMethod ParseMethod(string s) => s switch
    {
        "magnitude" => PruneMethod.Magnitude,
        "global" => PruneMethod.Global,
        "sensitivity" => PruneMethod.Sensitivity,
        "structured" => PruneMethod.Structured,
        "random" => PruneMethod.Random,
        "lamp" => PruneMethod.Lamp,
        "obd" => PruneMethod.Obd,
        _ => throw new ArgumentException($"--method: unknown method '{s}'; expected magnitude, global, lamp, obd, sensitivity, structured or random."),
    };

    private static void WriteSweep(string dir, SensitivityResult s)
    {
        var csv = new System.Text.StringBuilder("layer,weights," + string.Join(",", s.Sparsities.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "\n");
        foreach (var (layer, n, acc) in s.Layers)
            csv.AppendLine(layer + "," + n + "," + string.Join(",", acc.Select(a => a.ToString("R", CultureInfo.InvariantCulture))));
        RunFiles.WriteText(Path.Combine(dir, "sensitivity.csv"), csv.ToString());
        Plots.Sensitivity(Path.Combine(dir, "sensitivity.png"), s);
    }

    private sealed class FineTuneObserver(TextWriter output) : ITrainingObserver
    {
        public void EpochStarted(int epoch, int epochs, int steps) { }

        public void StepCompleted(int epoch, int step, int steps, double loss, double accuracy, double imagesPerSecond)
        {
            if (step == steps)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  fine-tune {step} batches: loss {loss:F4}, train accuracy {SharpgradCli.Percent(accuracy)}"));
        }

        public void EpochCompleted(EpochMetrics metrics) { }
    }
}
