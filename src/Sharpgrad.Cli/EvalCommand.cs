using Sharpgrad.NN;
using Sharpgrad.Workflows;
using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace Sharpgrad.Cli;

/// <summary>`sharpgrad eval`: test accuracy, per-class accuracy and the confusion matrix of a trained run.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Run folder written by sharpgrad train (or a file in it, e.g. RUN/checkpoint.safetensors)." };
        var onnx = new Option<string>("--model")
        {
            Description = "An ONNX model file (.onnx) to evaluate instead of a run folder; its input shape (C, H, W) comes from the graph's input.",
        };
        var normalize = new Option<string>("--normalize")
        {
            Description = "With --model: the input normalization. auto (default): the file's own (sharpgrad export stores the run's), else data; file: the file's own; data: the dataset's training images' per-channel mean and std, as sharpgrad train applies; none: pixels in [0, 1]; MEAN/STD: comma lists, one value per channel (e.g. 0.2860/0.3530).",
            DefaultValueFactory = _ => "auto",
        };
        var data = new Option<string[]>("--data")
        {
            Description = "Dataset to evaluate on (default: the one the model was trained on).",
            Arity = new ArgumentArity(1, 2),
            AllowMultipleArgumentsPerToken = true,
        };
        var threads = new Option<int>("--threads") { Description = "Kernel threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var tta = new Option<string>("--tta") { Description = "Test-time augmentation: none, or flip (the mean logits of each test image and its mirror). Default: the run's own recipe's (none for an ONNX file)." };
        var cmd = new Command("eval", "Evaluate a trained model (a run folder or an ONNX file) on a test set.") { checkpoint, onnx, normalize, data, threads, tta };
        cmd.SetAction(r => SharpgradCli.Guard(r.InvocationConfiguration.Error, () =>
        {
            if ((r.GetValue(checkpoint) is null) == (r.GetValue(onnx) is null))
                throw new ArgumentException("eval: give either --checkpoint RUN or --model FILE.onnx.");
            var dataArgs = r.GetValue(data) ?? [];
            var result = EvalWorkflow.Run(new EvalOptions
            {
                Checkpoint = r.GetValue(checkpoint) is { } c ? SharpgradCli.RunFolder(c) : null,
                Model = r.GetValue(onnx),
                Normalize = r.GetResult(normalize) is { Implicit: false } ? r.GetValue(normalize) : null,
                Data = dataArgs.Length > 0 ? dataArgs[0] : null,
                DataDir = dataArgs.Length > 1 ? dataArgs[1] : null,
                Threads = r.GetValue(threads),
                Tta = r.GetValue(tta),
            });
            var output = r.InvocationConfiguration.Output;
            if (result.Described is not null) output.WriteLine(result.Described);
            if (result.DataNote is not null) output.WriteLine(result.DataNote);
            Print(SharpgradCli.ConsoleFor(output), result.Evaluation, result.Classes, result.Images, result.Tta);
            if (result.Sparsity is { } sparsity)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"sparsity: {sparsity.Sparsity * 100:F1}% of the {sparsity.Parameters:N0} Conv2d and Linear weights are zero ({sparsity.AllNonZeros:N0} of {sparsity.AllParameters:N0} parameters non-zero)"));
            return 0;
        }));
        return cmd;
    }

    private static void Print(IAnsiConsole console, Evaluation ev, string[] classes, int count, string tta)
    {
        console.WriteLine($"test accuracy {SharpgradCli.Percent(ev.Accuracy)} on {count:N0} images{(tta == "flip" ? " (each averaged with its mirror: --tta flip)" : "")}, test loss {ev.Loss.ToString("F4", CultureInfo.InvariantCulture)}");
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
