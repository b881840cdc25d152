using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sharpgrad.NN.Data;
using Sharpgrad.NN.Serialization;

namespace Sharpgrad.NN.Training;

/// <summary>What a run writes to its output folder, and reads back for eval and resume.</summary>
public static class RunFiles
{
    /// <summary>Weights, with PyTorch's state_dict names.</summary>
    public const string Weights = "model.safetensors";

    /// <summary>Architecture, normalization, recipe and per-epoch metrics.</summary>
    public const string ModelJson = "model.json";

    /// <summary>Per-epoch metrics.</summary>
    public const string MetricsCsv = "metrics.csv";

    /// <summary>Weights, optimizer state, epoch and RNG state, for --resume.</summary>
    public const string Checkpoint = "checkpoint.safetensors";

    /// <summary>JSON options of the run files (indented).</summary>
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes <paramref name="text"/> atomically (a temporary file, then a rename).</summary>
    public static void WriteText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(path);
        var tmp = path + "." + Environment.ProcessId + ".tmp";
        try
        {
            File.WriteAllText(tmp, text);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

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

    /// <summary>metrics.csv's content.</summary>
    public static string MetricsText(IReadOnlyList<EpochMetrics> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var sb = new StringBuilder("epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,lr\n");
        foreach (var m in metrics)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{m.Epoch},{m.TrainLoss:R},{m.TrainAccuracy:R},{m.TestLoss:R},{m.TestAccuracy:R},{m.Seconds:F3},{m.Lr:R}"));
        return sb.ToString();
    }

    /// <summary>A trained model loaded from a run folder.</summary>
    public sealed record LoadedModel(Module Model, int[] Input, string[] Classes, Normalize Normalize, TrainOptions Recipe, JsonObject Description);

    /// <summary>Loads model.json and model.safetensors from <paramref name="dir"/>.</summary>
    public static LoadedModel Load(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir)) throw new DataException($"{dir}: run folder not found (expected {ModelJson} and {Weights} from sharpgrad train).");
        var jsonPath = Path.Combine(dir, ModelJson);
        if (!File.Exists(jsonPath)) throw new DataException($"{jsonPath}: not found (expected the {ModelJson} that sharpgrad train writes).");
        JsonObject d;
        try
        {
            d = JsonNode.Parse(File.ReadAllText(jsonPath))!.AsObject();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new DataException($"{jsonPath}: not valid JSON ({e.Message}).", e);
        }
        try
        {
            var input = d["input"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray();
            var classes = d["classes"]!.AsArray().Select(x => x!.GetValue<string>()).ToArray();
            var norm = d["normalization"]!;
            var normalize = new Normalize(norm["mean"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray(), norm["std"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray());
            var recipe = d["recipe"].Deserialize<TrainOptions>(Json) ?? new TrainOptions();
            if (input.Length != 3 || input.Any(v => v < 1 || v > 65536))
                throw new DataException($"{jsonPath}: \"input\" must be [C, H, W] with sizes from 1 to 65536, got {d["input"]!.ToJsonString()}.");
            // sharpgrad-run/2 carries the model's description; /1 folders hold the exam CNN
            Module model = d["model"] is JsonObject spec
                ? ModelSpec.Build(spec, jsonPath)
                : (d["architecture"]?.GetValue<string>() ?? "exam-cnn") == "exam-cnn"
                    ? ExamCnn.Create(input[0], input[1], input[2], classes.Length, d["dropout"]?.GetValue<double>() ?? 0)
                    : throw new DataException($"{jsonPath}: no \"model\" description for architecture '{d["architecture"]}' (this run was written by a custom module, which the command line cannot rebuild).");
            var (tensors, _) = SafeTensors.Read(Path.Combine(dir, Weights));
            model.LoadStateDict(tensors);
            return new LoadedModel(model, input, classes, normalize, recipe, d);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException or JsonException or KeyNotFoundException)
        {
            throw new DataException($"{jsonPath}: missing or malformed field ({e.Message}).", e);
        }
    }
}
