using System.CommandLine;
using System.Globalization;
using Sharpgrad.NN;
using Sharpgrad.Workflows;

namespace Sharpgrad.Cli;

/// <summary>`sharpgrad prune`: prune a trained run and fine-tune it, or sweep each layer's sensitivity.</summary>
internal static class PruneCommand
{
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
            var options = new PruneOptions
            {
                Checkpoint = SharpgradCli.RunFolder(r.GetValue(checkpoint)!),
                Sparsity = r.GetValue(sparsity),
                Method = r.GetValue(method)!,
                FinetuneEpochs = r.GetValue(finetune),
                Steps = r.GetValue(steps),
                Lr = r.GetValue(lr),
                Sweep = r.GetValue(sweep),
                Out = r.GetValue(outDir),
                Threads = r.GetValue(threads),
                Seed = r.GetValue(seed),
                BatchSize = r.GetValue(batchSize),
                Distill = r.GetValue(distill),
                Temperature = r.GetValue(temperature),
                PruneWindow = r.GetValue(window),
            };
            var workflow = PruneWorkflow.Create(options);
            var observer = new Printer(output);
            if (options.Sweep)
            {
                workflow.RunSweep(observer, Plots.Sensitivity);
                output.WriteLine($"wrote sensitivity.csv and sensitivity.png to {workflow.OutDir}");
                return 0;
            }
            var result = workflow.Prune(observer, Plots.Sensitivity);
            output.WriteLine($"wrote {string.Join(", ", result.Files)} to {workflow.OutDir}");
            return 0;
        }));
        return cmd;
    }

    // prints a prune's progress
    private sealed class Printer(TextWriter output) : IPruneObserver
    {
        public void SweepStarted(PruneWorkflow workflow) => output.WriteLine(workflow.Options.Sweep
            ? $"sensitivity sweep of {workflow.RunFolder} on {workflow.Validation.Count:N0} validation images (the last of the training set)"
            : $"sensitivity sweep on {workflow.Validation.Count:N0} validation images ...");

        public void SweepCompleted(SensitivityResult sweep) => output.Write(sweep.ToText());

        public void Evaluated(PruneWorkflow workflow, Evaluation test, Evaluation validation) =>
            output.WriteLine($"{workflow.RunFolder}: test accuracy {SharpgradCli.Percent(test.Accuracy)} (validation {SharpgradCli.Percent(validation.Accuracy)}) before pruning; {SparsityReport.Of(workflow.Run.Model).Sparsity * 100:F1}% of the prunable weights are zero");

        public void RatesChosen(IReadOnlyDictionary<string, double> rates) =>
            output.WriteLine("chosen rates: " + string.Join(", ", rates.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value * 100:F1}%"))));

        public void PruningStarted(PruneWorkflow workflow) =>
            output.WriteLine($"pruning to {workflow.Options.Sparsity * 100:F0}% ({workflow.Options.Method}) in {workflow.Options.Steps} cubic steps with {workflow.Options.FinetuneEpochs} fine-tuning epochs in all on {workflow.FineTuneSet.Count:N0} images");

        public void FineTuneStep(int step, int steps, double loss, double accuracy)
        {
            if (step == steps)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  fine-tune {step} batches: loss {loss:F4}, train accuracy {SharpgradCli.Percent(accuracy)}"));
        }

        public void Pruned(PruneResult result)
        {
            output.Write(result.Report.ToText());
            output.WriteLine($"validation accuracy {SharpgradCli.Percent(result.ValidationAfter.Accuracy)} after pruning (was {SharpgradCli.Percent(result.ValidationBefore.Accuracy)}: {(result.ValidationAfter.Accuracy - result.ValidationBefore.Accuracy) * 100:+0.00;-0.00} points)");
            output.WriteLine($"test accuracy {SharpgradCli.Percent(result.TestAfter.Accuracy)} after pruning (was {SharpgradCli.Percent(result.TestBefore.Accuracy)}: {(result.TestAfter.Accuracy - result.TestBefore.Accuracy) * 100:+0.00;-0.00} points)");
        }
    }
}
