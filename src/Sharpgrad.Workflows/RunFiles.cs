using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using Sharpgrad.NN;

namespace Sharpgrad.Workflows;

/// <summary>What a run writes to its output folder, and reads back for eval and resume.</summary>
public static class RunFiles
{
    /// <summary>Weights, with PyTorch's state_dict names.</summary>
    public const string Weights = "model.safetensors";

    /// <summary>Architecture, normalization, recipe and per-epoch metrics.</summary>
    public const string ModelJson = "model.json";

    /// <summary>Per-epoch metrics.</summary>
    public const string MetricsCsv = "metrics.csv";

    /// <summary>Weights, optimizer state, epoch and RNG state, to resume the run.</summary>
    public const string Checkpoint = "checkpoint.safetensors";

    /// <summary>Every file a train or prune run writes to its folder (plots included).</summary>
    public static readonly IReadOnlyList<string> KnownFiles =
        [Weights, ModelJson, MetricsCsv, Checkpoint, "loss.png", "accuracy.png", "confusion.png", "sparsity.txt", "sensitivity.csv", "sensitivity.png"];

    /// <summary>Whether <paramref name="name"/> is the temporary file of an atomic write of a run file ("model.json.123.tmp", ".checkpoint.safetensors.123.tmp", "loss.png.tmp.png").</summary>
    public static bool IsTempFile(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return (name.EndsWith(".tmp", StringComparison.Ordinal) || name.EndsWith(".tmp.png", StringComparison.Ordinal))
            && KnownFiles.Any(k => name.StartsWith(k + ".", StringComparison.Ordinal) || name.StartsWith("." + k + ".", StringComparison.Ordinal));
    }

    /// <summary>Removes the temporary files that an interrupted write left in <paramref name="dir"/>; returns how many.</summary>
    public static int RemoveStaleTemps(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir)) return 0;
        int n = 0;
        foreach (var f in Directory.GetFiles(dir).Where(f => IsTempFile(Path.GetFileName(f))))
        {
            File.Delete(f);
            n++;
        }
        return n;
    }

    /// <summary>
    /// Checks an output folder before any data is loaded: it must not be a file; unless <paramref name="overwrite"/>,
    /// it must be new, empty or (when <paramref name="resuming"/>) the run being resumed, so a finished run and a
    /// user's own files are never replaced; and it must be writable (a probe file is written and removed, and a
    /// folder created for the probe is removed again). <paramref name="option"/> names the option in messages (an
    /// <see cref="OptionException"/> option name, "OutDir" by default).
    /// </summary>
    /// <exception cref="OptionException">The folder is a file, holds a run or other files, or cannot be written (one line).</exception>
    public static void CheckOutFolder(string dir, bool overwrite, bool resuming, string option = TrainWorkflow.OutDirOption)
    {
        ArgumentNullException.ThrowIfNull(dir);
        string shown = OptionException.Escape(dir);
        if (File.Exists(dir)) throw new OptionException(option, $"{dir} is a file, expected a folder.");
        if (Directory.Exists(dir) && !overwrite && !resuming)
        {
            var entries = Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).OfType<string>().Where(n => !IsTempFile(n)).Order(StringComparer.Ordinal).ToArray();
            if (entries.Contains(ModelJson))
                throw OptionException.Format($"{{0}}: {shown} holds a finished run ({ModelJson}); pass {{1}} to replace it, or choose another folder.", option, OverwriteOption);
            if (entries.Contains(Checkpoint))
                throw OptionException.Format($"{{0}}: {shown} holds an unfinished run ({Checkpoint}); continue it with {{1}} {shown}, pass {{2}} to replace it, or choose another folder.", option, TrainWorkflow.ResumeDirOption, OverwriteOption);
            if (entries.Length > 0)
                throw OptionException.Format($"{{0}}: {shown} holds files that are not a run's ({OptionException.Escape(string.Join(", ", entries.Take(3)))}{(entries.Length > 3 ? ", ..." : "")}); choose a new or empty folder, or pass {{1}}.", option, OverwriteOption);
        }
        // the first missing folder on the way down is created for the probe and removed after it
        string full = Path.GetFullPath(dir);
        string? created = null;
        for (var d = new DirectoryInfo(full); d is not null && !d.Exists; d = d.Parent) created = d.FullName;
        var probe = Path.Combine(full, ".sharpgrad-write-probe." + Environment.ProcessId + ".tmp");
        try
        {
            Directory.CreateDirectory(full);
            File.WriteAllBytes(probe, [0]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OptionException(option, $"{dir} is not writable ({e.Message.ReplaceLineEndings(" ")}).", e);
        }
        finally
        {
            try
            {
                if (File.Exists(probe)) File.Delete(probe);
                if (created is not null && Directory.Exists(created)) Directory.Delete(created, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // the probe's own clean-up failing is reported by the probe's error, if any
            }
        }
    }

    /// <summary>The option name by which errors name the permission to replace an output folder's files.</summary>
    public const string OverwriteOption = "Overwrite";

    /// <summary>Runs a write of <paramref name="path"/>, turning an I/O failure (a full disk, a read-only folder) into one line naming the file and what was kept.</summary>
    /// <exception cref="DataException">The write failed; the file's previous version (atomic writes) is unchanged.</exception>
    public static void Writing(string path, string kept, Action write)
    {
        ArgumentNullException.ThrowIfNull(write);
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{path}: cannot write ({e.Message.ReplaceLineEndings(" ")}); {kept}.", e);
        }
    }

    /// <summary>How run files are parsed: a duplicate key is an error (a JsonException), not a later ArgumentException.</summary>
    internal static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false };

    /// <summary>JSON options of the run files (indented).</summary>
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes <paramref name="text"/> atomically (<see cref="AtomicFile.WriteText"/>).</summary>
    public static void WriteText(string path, string text) => AtomicFile.WriteText(path, text);

    /// <summary>model.json's content.</summary>
    public static JsonObject Describe(Module model, ImageDataset train, Normalize normalize, TrainOptions options, IReadOnlyList<EpochMetrics> metrics)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(normalize);
        ArgumentNullException.ThrowIfNull(metrics);
        return new JsonObject
        {
            ["format"] = "sharpgrad-run/2",
            ["architecture"] = options.IsBuiltInModel ? options.Model : "file:" + Path.GetFileName(options.Model),
            ["input"] = new JsonArray(train.Channels, train.Height, train.Width),
            ["classes"] = new JsonArray(train.ClassNames.Select(c => (JsonNode)c).ToArray()),
            ["model"] = DescribeModel(model),
            ["parameters"] = model.ParameterCount(),
            ["normalization"] = new JsonObject { ["mean"] = ToArray(normalize.Mean), ["std"] = ToArray(normalize.Std) },
            ["recipe"] = JsonSerializer.SerializeToNode(options, Json),
            ["epochs"] = new JsonArray(metrics.Select(m => JsonSerializer.SerializeToNode(m, Json)).ToArray()),
        };
    }

    /// <summary>The model's description (<see cref="ModelSpec.Describe"/>), or null for a module that cannot describe itself.</summary>
    public static JsonObject? DescribeModel(Module model)
    {
        try
        {
            return ModelSpec.Describe(model);
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    private static JsonArray ToArray(double[] v) => new(v.Select(x => (JsonNode)x).ToArray());

    /// <summary>metrics.csv's content (<see cref="EpochMetrics.Csv"/>).</summary>
    public static string MetricsText(IReadOnlyList<EpochMetrics> metrics) => EpochMetrics.Csv(metrics);

    /// <summary>A trained model loaded from a run folder.</summary>
    public sealed record LoadedModel(Module Model, int[] Input, string[] Classes, Normalize Normalize, TrainOptions Recipe, JsonObject Description);

    /// <summary>The most input elements (C*H*W) a run's model.json may claim: 2^26, 256 MB of float32 per image.</summary>
    public const long MaxInputElements = 1L << 26;

    /// <summary>
    /// Loads model.json and model.safetensors from <paramref name="dir"/>. Every field of model.json is checked
    /// before the model is built, and the weights file before any tensor is allocated.
    /// </summary>
    /// <exception cref="DataException">A missing file or a bad field (one line naming the file and the field).</exception>
    public static LoadedModel Load(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        try
        {
            return LoadChecked(dir);
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json checks a string's escapes only when it is read: "\udeca" alone is not text
            throw new DataException($"{Path.Combine(dir, ModelJson)}: holds a string that is not valid Unicode ({e.Message})", e);
        }
    }

    private static LoadedModel LoadChecked(string dir)
    {
        if (!Directory.Exists(dir)) throw new DataException($"{dir}: run folder not found (expected {ModelJson} and {Weights} from sharpgrad train).");
        var jsonPath = Path.Combine(dir, ModelJson);
        if (!File.Exists(jsonPath))
        {
            // a run stopped before its end holds a checkpoint but no model.json (written last): say so, and how to finish it
            throw new DataException(File.Exists(Path.Combine(dir, Checkpoint))
                ? $"{jsonPath}: not found: {dir} holds an unfinished run ({Checkpoint} without {ModelJson}, which is written last); resume the run to finish it and write {ModelJson} and {Weights}."
                : $"{jsonPath}: not found (expected the {ModelJson} that sharpgrad train writes).");
        }
        JsonObject d;
        try
        {
            d = JsonNode.Parse(File.ReadAllText(jsonPath), documentOptions: StrictJson) as JsonObject ?? throw new DataException($"{jsonPath}: expected a JSON object.");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{jsonPath}: not valid JSON ({e.Message.ReplaceLineEndings(" ")}).", e);
        }
        DataException Bad(string field, string expected, Exception? inner = null)
        {
            var got = d[field] is JsonNode node ? node.ToJsonString() : "nothing";
            if (got.Length > 100) got = got[..100] + "...";
            var message = $"{jsonPath}: \"{field}\" must be {expected}, got {got}.";
            return inner is null ? new DataException(message) : new DataException(message, inner);
        }

        string? format = d["format"] is JsonValue fv && fv.GetValueKind() == JsonValueKind.String ? fv.GetValue<string>() : null;
        if (d["format"] is not null && format is not ("sharpgrad-run/1" or "sharpgrad-run/2"))
            throw Bad("format", "\"sharpgrad-run/1\" or \"sharpgrad-run/2\" (a run folder written by sharpgrad train)");
        var input = Integers(d["input"]);
        if (input is not { Length: 3 } || input.Any(v => v < 1 || v > 65536) || input.Aggregate(1L, (a, v) => a * v) > MaxInputElements)
            throw Bad("input", $"[C, H, W], three sizes from 1 to 65536 with C*H*W at most {MaxInputElements}");
        int c = (int)input[0], h = (int)input[1], w = (int)input[2];
        int[] shape = [c, h, w];

        string[]? classes = d["classes"] is JsonArray ca && ca.Count > 0 && ca.All(x => x is JsonValue v && v.GetValueKind() == JsonValueKind.String)
            ? [.. ca.Select(x => x!.GetValue<string>())] : null;
        if (classes is null) throw Bad("classes", "a non-empty array of class names");

        var norm = d["normalization"] as JsonObject;
        double[]? mean = Numbers(norm?["mean"]), std = Numbers(norm?["std"]);
        if (mean is null || mean.Length != c || mean.Any(v => !double.IsFinite(v)))
            throw Bad("normalization", $"{{\"mean\": [...], \"std\": [...]}} with {c} finite means (one per channel)");
        if (std is null || std.Length != c || std.Any(v => !(v > 0) || double.IsInfinity(v)))
            throw Bad("normalization", $"{{\"mean\": [...], \"std\": [...]}} with {c} positive finite standard deviations (one per channel)");
        var normalize = new Normalize(mean, std);

        TrainOptions recipe;
        try
        {
            recipe = d["recipe"] is JsonObject r ? r.Deserialize<TrainOptions>(Json) ?? new TrainOptions()
                : d["recipe"] is null ? new TrainOptions() : throw Bad("recipe", "an object (the training options)");
        }
        catch (JsonException e)
        {
            throw Bad("recipe", $"the training options ({e.Message.ReplaceLineEndings(" ")})", e);
        }
        // eval applies the run's test-time augmentation: an unknown one must not pass as none
        if (recipe.Tta is not ("none" or "flip"))
            throw Bad("recipe", $"the training options with Tta none or flip (Tta is {(recipe.Tta is null ? "null" : $"\"{recipe.Tta}\"")})");

        var weightsPath = Path.Combine(dir, Weights);
        // sharpgrad-run/2 carries the model's description; /1 folders hold the exam CNN
        Module model;
        Dictionary<string, Tensor> tensors;
        if (d["model"] is JsonObject spec)
        {
            model = ModelSpec.Build(spec, jsonPath);
            tensors = SafeTensors.Read(weightsPath).Tensors;
        }
        else if (d["model"] is not null)
            throw Bad("model", "the model's description (an object)");
        else
        {
            var architecture = d["architecture"] is null ? "exam-cnn"
                : d["architecture"] is JsonValue av && av.GetValueKind() == JsonValueKind.String ? av.GetValue<string>()
                : throw Bad("architecture", "a string");
            if (architecture != "exam-cnn")
                throw new DataException(Models.Names.Contains(architecture)
                    ? $"{jsonPath}: no \"model\" description; a {architecture} run's model.json carries one (restore it from the run's checkpoint or retrain)."
                    : $"{jsonPath}: no \"model\" description for architecture '{architecture}' (a run of a custom module, which the command line cannot rebuild).");
            double dropout = d["dropout"] is null ? 0 : Number(d["dropout"]) is double p && p >= 0 && p < 1 ? p
                : throw Bad("dropout", "a probability in [0, 1)");
            if (h < 4 || w < 4) throw Bad("input", "[C, H, W] with H and W at least 4 for the exam CNN (two 2x2 poolings)");
            if (classes.Length < 2) throw Bad("classes", "at least 2 class names for the exam CNN");
            // the weights are read (and checked) first: the network is only built if the file can hold its parameters
            tensors = SafeTensors.Read(weightsPath).Tensors;
            long needed = 16L * (h / 4) * (w / 4) * classes.Length;
            long stored = tensors.Values.Sum(t => (long)t.NumElements);
            if (needed > stored)
                throw new DataException($"{jsonPath}: \"input\" {c}x{h}x{w} and {classes.Length} classes need at least {needed} weights in the exam CNN's last layer, but {weightsPath} holds {stored} numbers in all.");
            model = ExamCnn.Create(c, h, w, classes.Length, dropout);
        }
        try
        {
            model.LoadStateDict(tensors);
        }
        catch (ArgumentException e)
        {
            throw new DataException($"{weightsPath}: does not fit the model in {ModelJson}: {e.Message}", e);
        }
        return new LoadedModel(model.Fuse(), shape, classes, normalize, recipe, d);
    }

    // a JSON array of integers (as long), or null for anything else
    private static long[]? Integers(JsonNode? node)
    {
        if (node is not JsonArray a) return null;
        var result = new long[a.Count];
        for (int i = 0; i < a.Count; i++)
        {
            if (a[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) return null;
            if (v.TryGetValue(out long l)) result[i] = l;
            else if (v.TryGetValue(out int n)) result[i] = n;
            else return null;
        }
        return result;
    }

    // a JSON number, or null for anything else
    private static double? Number(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double x) ? x : null;

    // a JSON array of numbers, or null for anything else
    private static double[]? Numbers(JsonNode? node)
    {
        if (node is not JsonArray a) return null;
        var result = new double[a.Count];
        for (int i = 0; i < a.Count; i++)
        {
            if (Number(a[i]) is not double x) return null;
            result[i] = x;
        }
        return result;
    }
}
