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
        var cmd = new Command("eval", "Evaluate a trained model (a run folder or an ONNX file) on a test set.") { checkpoint, onnx, normalize, data, threads };
        cmd.SetAction(r => SharpgradCli.Guard(r.InvocationConfiguration.Error, () =>
        {
            if ((r.GetValue(checkpoint) is null) == (r.GetValue(onnx) is null))
                throw new ArgumentException("eval: give either --checkpoint RUN or --model FILE.onnx.");
            if (r.GetValue(onnx) is { } onnxPath) return EvalOnnx(r, onnxPath, r.GetValue(normalize)!, r.GetValue(data) ?? [], r.GetValue(threads));
            if (r.GetResult(normalize) is { Implicit: false })
                throw new ArgumentException("--normalize: applies to --model FILE.onnx only; a run folder carries its own normalization.");
            var loaded = RunFiles.Load(SharpgradCli.RunFolder(r.GetValue(checkpoint)!));
            var dataArgs = r.GetValue(data) ?? [];
            string kind = dataArgs.Length > 0 ? dataArgs[0] : loaded.Recipe.Data;
            string? dir = dataArgs.Length > 1 ? dataArgs[1] : dataArgs.Length > 0 ? null : loaded.Recipe.DataDir;
            int t = r.GetValue(threads);
            if (t < 1) throw new ArgumentException($"--threads: expected a positive number, got {t}.");
            using var threadScope = Sharpgrad.Parallelism.UseThreads(t);
            if (dataArgs.Length == 0 && dir is not null && !Directory.Exists(dir))
                throw new ArgumentException($"--data: the run's data folder {dir} no longer exists; pass --data {kind} DIR with the folder it moved to.");
            var pair = DataSources.Load(kind, dir);
            var test = pair.Test;
            if (test.Channels != loaded.Input[0] || test.Height != loaded.Input[1] || test.Width != loaded.Input[2])
                throw new ArgumentException($"--data: {kind} images are {test.Channels}x{test.Height}x{test.Width} but the model takes {string.Join("x", loaded.Input)}.");
            if (test.ClassNames.Count != loaded.Classes.Length)
                throw new ArgumentException($"--data: {kind} has {test.ClassNames.Count} classes but the model predicts {loaded.Classes.Length}.");
            if (test.Count == 0) throw new DataException($"{test.Source}: the test set is empty.");
            if (dataArgs.Length > 1) SayWhetherTheRunsData(loaded, kind, dir!, pair, r.InvocationConfiguration.Output);
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

    // --data KIND DIR on a run that stores its data's fingerprint: one line saying whether DIR holds the run's dataset
    // (moved) or other data, which eval takes too: evaluating a model on another test set is what --data is for
    private static void SayWhetherTheRunsData(RunFiles.LoadedModel loaded, string kind, string dir, DatasetPair pair, TextWriter output)
    {
        if (loaded.Description["data_fingerprint"] is not System.Text.Json.Nodes.JsonValue v || v.GetValueKind() != System.Text.Json.JsonValueKind.String
            || DataFingerprint.Parse(v.GetValue<string>()) is not { } stored)
            return;
        var now = DataFingerprint.Of(kind, pair);
        string was = loaded.Recipe.DataDir ?? $"the bundled {loaded.Recipe.Data}";
        output.WriteLine(now == stored
            ? $"data: {dir} holds the dataset the run was trained on in {was} (same fingerprint)"
            : $"data: {dir} is not the dataset the run was trained on in {was} ({stored.Differences(now)}); evaluating on its test images");
    }

    // an imported ONNX model on a dataset's test images (default Fashion-MNIST)
    private static int EvalOnnx(ParseResult r, string path, string normalize, string[] dataArgs, int threads)
    {
        if (threads < 1) throw new ArgumentException($"--threads: expected a positive number, got {threads}.");
        using var threadScope = Sharpgrad.Parallelism.UseThreads(threads);
        var model = Sharpgrad.Onnx.OnnxModel.Load(path);
        if (model.Inputs.Count != 1 || model.Inputs[0].Shape is not [_, int c, int h, int w])
            throw new ArgumentException($"--model: {path} takes {string.Join(", ", model.Inputs)}; eval needs one image input of shape (N, C, H, W) with C, H and W fixed.");
        string kind = dataArgs.Length > 0 ? dataArgs[0] : "fashion-mnist";
        var pair = DataSources.Load(kind, dataArgs.Length > 1 ? dataArgs[1] : null);
        var test = pair.Test;
        if (test.Channels != c || test.Height != h || test.Width != w)
            throw new ArgumentException($"--data: {kind} images are {test.Channels}x{test.Height}x{test.Width} but {path} takes {c}x{h}x{w}.");
        var classes = test.ClassNames.ToArray();
        if (model.Outputs.Count < 1 || model.Outputs[0].Shape is not [_, var k] || (k is { } n && n != classes.Length))
            throw new ArgumentException($"--model: {path}'s first output is {string.Join(", ", model.Outputs)}; eval needs (N, {classes.Length}) scores for {kind}'s {classes.Length} classes.");
        var stored = FileNormalization(model, path, c);
        if (normalize == "auto") normalize = stored is null ? "data" : "file";
        var transform = normalize switch
        {
            "file" => stored ?? throw new ArgumentException($"--normalize file: {path} stores no normalization (metadata \"normalization\" with mean and std); pass data, none or MEAN/STD."),
            "data" => Normalize.FromData(pair.Train),
            "none" => null,
            _ => ParseNormalize(normalize, c),
        };
        static string List(double[] v) => string.Join(",", v.Select(x => x.ToString("0.####", CultureInfo.InvariantCulture)));
        string described = transform is null ? "none (pixels in [0, 1])"
            : $"(x - {List(transform.Mean)}) / {List(transform.Std)}" + normalize switch
            {
                "data" => $" ({kind}'s training images' per-channel mean and std, as sharpgrad train)",
                "file" => " (stored in the file)",
                _ => "",
            };
        var output = r.InvocationConfiguration.Output;
        output.WriteLine($"model {path}: ONNX opset {model.Opset}{(model.Producer.Length > 0 ? $" from {model.Producer}" : "")}, {model.NodeCount} nodes, {model.ParameterCount():N0} parameters; input {model.Inputs[0]}; normalization {described}");
        var ev = Trainer.Evaluate(model, new DataLoader(test, 500, transforms: transform is null ? [] : [transform]), classes.Length);
        Print(SharpgradCli.ConsoleFor(output), ev, classes, test.Count);
        return 0;
    }

    // the "normalization" metadata that sharpgrad export writes: {"mean":[...],"std":[...]}, one value per channel
    private static Normalize? FileNormalization(Sharpgrad.Onnx.OnnxModel model, string path, int channels)
    {
        if (!model.Metadata.TryGetValue("normalization", out var text)) return null;
        try
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(text);
            var mean = node?["mean"]?.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            var std = node?["std"]?.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            if (mean is not null && std is not null && mean.Length == channels && std.Length == channels && mean.All(double.IsFinite) && std.All(x => x > 0 && double.IsFinite(x)))
                return new Normalize(mean, std);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            // reported below
        }
        throw new ArgumentException($"--model: {path}'s metadata \"normalization\" is not {{\"mean\": [{channels} numbers], \"std\": [{channels} positive numbers]}}; pass --normalize data, none or MEAN/STD.");
    }

    private static Normalize ParseNormalize(string text, int channels)
    {
        var parts = text.Split('/');
        double[]? Parse(string s) => s.Split(',').Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN).ToArray() is var a && a.All(double.IsFinite) ? a : null;
        if (parts.Length != 2 || Parse(parts[0]) is not { } mean || Parse(parts[1]) is not { } std || mean.Length != channels || std.Length != channels || std.Any(x => !(x > 0)))
            throw new ArgumentException($"--normalize: expected auto, file, data, none or MEAN/STD with {channels} comma-separated value(s) each and positive STD (e.g. {string.Join(",", Enumerable.Repeat("0.5", channels))}/{string.Join(",", Enumerable.Repeat("0.25", channels))}), got '{text}'.");
        return new Normalize(mean, std);
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
