using System.Globalization;
using Sharpgrad.NN;
using Sharpgrad.Onnx;

namespace Sharpgrad.Workflows;

/// <summary>What <c>sharpgrad eval</c> is asked: a run folder or an ONNX file, and the data to evaluate it on.</summary>
public sealed record EvalOptions
{
    /// <summary>A run folder written by <see cref="TrainWorkflow"/> (give this or <see cref="Model"/>).</summary>
    public string? Checkpoint { get; init; }

    /// <summary>An ONNX model file (give this or <see cref="Checkpoint"/>).</summary>
    public string? Model { get; init; }

    /// <summary>
    /// With <see cref="Model"/>: auto (the file's own normalization, else data), file, data (the dataset's training
    /// images' per-channel mean and std), none (pixels in [0, 1]) or MEAN/STD (comma lists, one value per channel).
    /// Null: auto.
    /// </summary>
    public string? Normalize { get; init; }

    /// <summary>The dataset kind (<see cref="DataSources.Kinds"/>); null: the run's own (Fashion-MNIST for an ONNX file).</summary>
    public string? Data { get; init; }

    /// <summary>The dataset's folder (with <see cref="Data"/>; null for the bundled Fashion-MNIST).</summary>
    public string? DataDir { get; init; }

    /// <summary>Kernel threads.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Test-time augmentation (<see cref="TrainOptions.Tta"/>): none, or flip (the mean logits of each image and its
    /// horizontal mirror). Null: a run's own recipe's; none for an ONNX file.
    /// </summary>
    public string? Tta { get; init; }
}

/// <summary>An evaluation: the result on the test images, the class names, and what was evaluated.</summary>
/// <param name="Evaluation">Loss, accuracy and confusion matrix on the test images.</param>
/// <param name="Classes">The class names.</param>
/// <param name="Images">How many test images.</param>
/// <param name="Sparsity">A run's sparsity report (null for an ONNX file).</param>
/// <param name="Described">What an ONNX file is and which normalization was applied (null for a run).</param>
/// <param name="DataNote">For a run evaluated on a dataset in another folder: whether it holds the run's own data (by fingerprint), else null.</param>
/// <param name="Tta">The test-time augmentation applied: none or flip.</param>
public sealed record EvalResult(Evaluation Evaluation, string[] Classes, int Images, SparsityReport? Sparsity, string? Described, string? DataNote = null, string Tta = "none");

/// <summary>
/// <c>sharpgrad eval</c>: a trained run (its own normalization) or an imported ONNX model on a dataset's test images;
/// the data must match the model's input shape and class count, and a non-finite loss is an error.
/// </summary>
public static class EvalWorkflow
{
    /// <summary>Evaluates what <paramref name="options"/> names.</summary>
    /// <exception cref="OptionException">A bad or missing option, or data that does not fit the model (one line).</exception>
    /// <exception cref="DataException">A bad file or dataset, an empty test set, or a non-finite loss.</exception>
    public static EvalResult Run(EvalOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if ((options.Checkpoint is null) == (options.Model is null))
            throw OptionException.Format("eval: give either {0} or {1}.", nameof(EvalOptions.Checkpoint), nameof(EvalOptions.Model));
        if (options.Threads < 1) throw new OptionException(nameof(EvalOptions.Threads), $"expected a positive number, got {options.Threads}.");
        if (options.Tta is not (null or "none" or "flip")) throw new OptionException(nameof(EvalOptions.Tta), $"expected none or flip, got \"{options.Tta}\".");
        if (options.Data is not null) TrainOptions.CheckData(options.Data, options.DataDir);
        using var threadScope = Parallelism.UseThreads(options.Threads);
        return options.Model is { } onnx ? EvaluateOnnx(onnx, options) : EvaluateRun(options.Checkpoint!, options);
    }

    private static EvalResult EvaluateRun(string folder, EvalOptions options)
    {
        if (options.Normalize is not null)
            throw OptionException.Format("{0}: applies to an ONNX model ({1}) only; a run folder carries its own normalization.", nameof(EvalOptions.Normalize), nameof(EvalOptions.Model));
        var loaded = RunFiles.Load(folder);
        string kind = options.Data ?? loaded.Recipe.Data;
        string? dir = options.Data is null ? loaded.Recipe.DataDir : options.DataDir;
        if (options.Data is null && dir is not null && !Directory.Exists(dir))
            throw OptionException.Format($"{{0}}: the run's data folder {OptionException.Escape(dir)} no longer exists; pass {{0}} {OptionException.Escape(kind)} DIR with the folder it moved to.", nameof(EvalOptions.Data));
        var pair = DataSources.Load(kind, dir);
        var test = pair.Test;
        if (test.Channels != loaded.Input[0] || test.Height != loaded.Input[1] || test.Width != loaded.Input[2])
            throw new OptionException(nameof(EvalOptions.Data), $"{kind} images are {test.Channels}x{test.Height}x{test.Width} but the model takes {string.Join("x", loaded.Input)}.");
        if (test.ClassNames.Count != loaded.Classes.Length)
            throw new OptionException(nameof(EvalOptions.Data), $"{kind} has {test.ClassNames.Count} classes but the model predicts {loaded.Classes.Length}.");
        if (test.Count == 0) throw new DataException($"{test.Source}: the test set is empty.");
        string tta = options.Tta ?? loaded.Recipe.Tta;
        var ev = TrainingLoop.Evaluate(loaded.Model, new DataLoader(test, 500, transforms: [loaded.Normalize]), loaded.Classes.Length, flipAverage: tta == "flip");
        if (!double.IsFinite(ev.Loss))
            throw new DataException($"{folder}: the test loss is {ev.Loss.ToString(CultureInfo.InvariantCulture)} (the weights hold NaN or infinite values?); the evaluation is not usable.");
        string? note = options.DataDir is null ? null : DataNote(loaded, kind, options.DataDir, pair);
        return new EvalResult(ev, loaded.Classes, test.Count, SparsityReport.Of(loaded.Model), null, note, tta);
    }

    // a dataset in another folder, for a run that stores its data's fingerprint: whether the folder holds the run's
    // dataset (moved) or other data, which eval takes too: evaluating a model on another test set is allowed
    private static string? DataNote(RunFiles.LoadedModel loaded, string kind, string dir, DatasetPair pair)
    {
        if (loaded.Description["data_fingerprint"] is not System.Text.Json.Nodes.JsonValue v || v.GetValueKind() != System.Text.Json.JsonValueKind.String
            || DataFingerprint.Parse(v.GetValue<string>()) is not { } stored)
            return null;
        var now = DataFingerprint.Of(kind, pair);
        string was = loaded.Recipe.DataDir ?? $"the bundled {loaded.Recipe.Data}";
        if (now == stored && loaded.Recipe.DataDir is { } trained && Path.GetFullPath(trained) == Path.GetFullPath(dir)) return null; // the same folder: nothing to say
        return now == stored
            ? $"data: {dir} holds the dataset the run was trained on in {was} (same fingerprint)"
            : $"data: {dir} is not the dataset the run was trained on in {was} ({stored.Differences(now)}); evaluating on its test images";
    }

    // an imported ONNX model on a dataset's test images (default Fashion-MNIST)
    private static EvalResult EvaluateOnnx(string path, EvalOptions options)
    {
        var model = OnnxModel.Load(path);
        if (model.Inputs.Count != 1 || model.Inputs[0].Shape is not [_, int c, int h, int w])
            throw new OptionException(nameof(EvalOptions.Model), $"{path} takes {string.Join(", ", model.Inputs)}; eval needs one image input of shape (N, C, H, W) with C, H and W fixed.");
        string kind = options.Data ?? "fashion-mnist";
        var pair = DataSources.Load(kind, options.DataDir);
        var test = pair.Test;
        if (test.Channels != c || test.Height != h || test.Width != w)
            throw new OptionException(nameof(EvalOptions.Data), $"{kind} images are {test.Channels}x{test.Height}x{test.Width} but {path} takes {c}x{h}x{w}.");
        var classes = test.ClassNames.ToArray();
        if (model.Outputs.Count < 1 || model.Outputs[0].Shape is not [_, var k] || (k is { } n && n != classes.Length))
            throw new OptionException(nameof(EvalOptions.Model), $"{path}'s first output is {string.Join(", ", model.Outputs)}; eval needs (N, {classes.Length}) scores for {kind}'s {classes.Length} classes.");
        var stored = FileNormalization(model, path, c);
        string normalize = options.Normalize ?? "auto";
        if (normalize == "auto") normalize = stored is null ? "data" : "file";
        var transform = normalize switch
        {
            "file" => stored ?? throw new OptionException(nameof(EvalOptions.Normalize), $"file: {path} stores no normalization (metadata \"normalization\" with mean and std); use data, none or MEAN/STD."),
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
        string about = $"model {path}: ONNX opset {model.Opset}{(model.Producer.Length > 0 ? $" from {model.Producer}" : "")}, {model.NodeCount} nodes, {model.ParameterCount():N0} parameters; input {model.Inputs[0]}; normalization {described}";
        string tta = options.Tta ?? "none";
        var ev = TrainingLoop.Evaluate(model, new DataLoader(test, 500, transforms: transform is null ? [] : [transform]), classes.Length, flipAverage: tta == "flip");
        return new EvalResult(ev, classes, test.Count, null, about, null, tta);
    }

    // the "normalization" metadata that sharpgrad export writes: {"mean":[...],"std":[...]}, one value per channel
    private static Normalize? FileNormalization(OnnxModel model, string path, int channels)
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
        throw OptionException.Format($"{{0}}: {OptionException.Escape(path)}'s metadata \"normalization\" is not {{{{\"mean\": [{channels} numbers], \"std\": [{channels} positive numbers]}}}}; use {{1}} data, none or MEAN/STD.", nameof(EvalOptions.Model), nameof(EvalOptions.Normalize));
    }

    private static Normalize ParseNormalize(string text, int channels)
    {
        var parts = text.Split('/');
        double[]? Parse(string s) => s.Split(',').Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : double.NaN).ToArray() is var a && a.All(double.IsFinite) ? a : null;
        if (parts.Length != 2 || Parse(parts[0]) is not { } mean || Parse(parts[1]) is not { } std || mean.Length != channels || std.Length != channels || std.Any(x => !(x > 0)))
            throw new OptionException(nameof(EvalOptions.Normalize), $"expected auto, file, data, none or MEAN/STD with {channels} comma-separated value(s) each and positive STD (e.g. {string.Join(",", Enumerable.Repeat("0.5", channels))}/{string.Join(",", Enumerable.Repeat("0.25", channels))}), got '{text}'.");
        return new Normalize(mean, std);
    }
}
