using Sharpgrad.NN;
using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace Sharpgrad.Cli;

/// <summary>`sharpgrad eval`: test accuracy, per-class accuracy and the confusion matrix of a trained run.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Run folder written by sharpgrad train.", Required = true };
        var data = new Option<string[]>("--data")
        {
            Description = "Dataset to evaluate on (default: the one the model was trained on).",
            Arity = new ArgumentArity(1, 2),
            AllowMultipleArgumentsPerToken = true,
        };
        var threads = new Option<int>("--threads") { Description = "Kernel threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("eval", "Evaluate a trained model on a test set.") { checkpoint, data, threads };
        cmd.SetAction(r => SharpgradCli.Guard(r.InvocationConfiguration.Error, () =>
        {
            var loaded = RunFiles.Load(r.GetValue(checkpoint)!);
            var dataArgs = r.GetValue(data) ?? [];
            string kind = dataArgs.Length > 0 ? dataArgs[0] : loaded.Recipe.Data;
            string? dir = dataArgs.Length > 1 ? dataArgs[1] : dataArgs.Length > 0 ? null : loaded.Recipe.DataDir;
            int t = r.GetValue(threads);
            if (t < 1) throw new ArgumentException($"--threads: expected a positive number, got {t}.");
            using var threadScope = Sharpgrad.Parallelism.UseThreads(t);
            var test = DataSources.Load(kind, dir).Test;
            if (test.Channels != loaded.Input[0] || test.Height != loaded.Input[1] || test.Width != loaded.Input[2])
                throw new ArgumentException($"--data: {kind} images are {test.Channels}x{test.Height}x{test.Width} but the model takes {string.Join("x", loaded.Input)}.");
            if (test.ClassNames.Count != loaded.Classes.Length)
                throw new ArgumentException($"--data: {kind} has {test.ClassNames.Count} classes but the model predicts {loaded.Classes.Length}.");
            if (test.Count == 0) throw new DataException($"{test.Source}: the test set is empty.");
            var ev = Trainer.Evaluate(loaded.Model, new DataLoader(test, 500, transforms: [loaded.Normalize]), loaded.Classes.Length);
            if (!double.IsFinite(ev.Loss))
                throw new DataException($"{r.GetValue(checkpoint)}: the test loss is {ev.Loss.ToString(CultureInfo.InvariantCulture)} (the weights hold NaN or infinite values?); the evaluation is not usable.");
            Print(SharpgradCli.ConsoleFor(r.InvocationConfiguration.Output), ev, loaded.Classes, test.Count);
            var sparsity = Sharpgrad.NN.SparsityReport.Of(loaded.Model);
            r.InvocationConfiguration.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sparsity: {sparsity.Sparsity * 100:F1}% of the {sparsity.Parameters:N0} Conv2d and Linear weights are zero ({sparsity.AllNonZeros:N0} of {sparsity.AllParameters:N0} parameters non-zero)"));
            return 0;
        }));
        return cmd;
    }

    private static void Print(IAnsiConsole console, Evaluation ev, string[] classes, int count)
    {
        console.WriteLine($"test accuracy {SharpgradCli.Percent(ev.Accuracy)} on {count:N0} images, test loss {ev.Loss.ToString("F4", CultureInfo.InvariantCulture)}");
        var per = ev.PerClassAccuracy();
        var table = new Table().Border(TableBorder.Simple).Title("confusion matrix (rows: true class, columns: predicted)");
        table.AddColumn("class");
        for (int j = 0; j < classes.Length; j++) table.AddColumn(new TableColumn(j.ToString(CultureInfo.InvariantCulture)).RightAligned());
        table.AddColumn(new TableColumn("accuracy").RightAligned());
        for (int i = 0; i < classes.Length; i++)
        {
            var row = new List<string> { Markup.Escape($"{i} {classes[i]}") };
            for (int j = 0; j < classes.Length; j++) row.Add(ev.Confusion[i, j].ToString(CultureInfo.InvariantCulture));
            row.Add(double.IsNaN(per[i]) ? "-" : SharpgradCli.Percent(per[i]));
            table.AddRow(row.ToArray());
        }
        console.Write(table);
    }
}
