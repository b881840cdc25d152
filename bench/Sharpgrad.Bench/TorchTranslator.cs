using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using TTensor = TorchSharp.torch.Tensor;

namespace Sharpgrad.Bench;

/// <summary>
/// Builds the TorchSharp (libtorch) twin of a Sharpgrad model from its model-file description
/// (<see cref="Sharpgrad.NN.ModelSpec.Describe"/>: PyTorch's layer type names and argument names), as an ONNX importer
/// maps operator names, and copies the weights across by state_dict name. Bench only: the library knows no TorchSharp.
/// </summary>
internal static class TorchTranslator
{
    /// <summary>The TorchSharp twin of <paramref name="model"/>, built from its description, with its weights copied in.</summary>
    public static nn.Module<TTensor, TTensor> Twin(Sharpgrad.NN.Module model)
    {
        // through text, so every number reads back as any numeric type (a JsonValue made from an int is not a long)
        var node = JsonNode.Parse(Sharpgrad.NN.ModelSpec.Describe(model).ToJsonString())!.AsObject();
        var twin = Build(node);
        CopyWeights(model, twin);
        return twin;
    }

    /// <summary>The TorchSharp module for one description node (and everything below it).</summary>
    /// <param name="node">A layer description: "type" and its arguments (arguments left out take PyTorch's defaults).</param>
    /// <param name="path">Where the node sits in the model, for error messages ("" for the root).</param>
    /// <exception cref="NotSupportedException">A layer type without a TorchSharp counterpart here (names the type and path).</exception>
    public static nn.Module<TTensor, TTensor> Build(JsonObject node, string path = "")
    {
        ArgumentNullException.ThrowIfNull(node);
        string type = node["type"]?.GetValue<string>() ?? throw new NotSupportedException($"TorchSharp twin: layer {Where(path)} has no \"type\".");
        switch (type)
        {
            case "Sequential":
                var layers = node["layers"]?.AsArray() ?? [];
                return nn.Sequential(layers.Select((l, i) => (i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Build(l!.AsObject(), Child(path, i.ToString(System.Globalization.CultureInfo.InvariantCulture))))).ToArray());
            case "Residual":
                nn.Module<TTensor, TTensor> shortcut = node["shortcut"] is JsonObject s ? Build(s, Child(path, "shortcut")) : nn.Identity();
                return new TorchResidual(Build(node["body"]!.AsObject(), Child(path, "body")), shortcut);
            case "Conv2d":
                return nn.Conv2d(Long(node, "in_channels"), Long(node, "out_channels"), Pair(node, "kernel_size"),
                    stride: Pair(node, "stride", (1, 1)), padding: Pair(node, "padding", (0, 0)),
                    groups: Long(node, "groups", 1), bias: Bool(node, "bias", true));
            case "Linear":
                return nn.Linear(Long(node, "in_features"), Long(node, "out_features"), Bool(node, "bias", true));
            case "BatchNorm1d":
                return nn.BatchNorm1d(Long(node, "num_features"), Double(node, "eps", 1e-5), Double(node, "momentum", 0.1), Bool(node, "affine", true));
            case "BatchNorm2d":
                return nn.BatchNorm2d(Long(node, "num_features"), Double(node, "eps", 1e-5), Double(node, "momentum", 0.1), Bool(node, "affine", true));
            case "MaxPool2d":
            {
                var k = Pair(node, "kernel_size");
                return nn.MaxPool2d(k, Pair(node, "stride", k), Pair(node, "padding", (0, 0)));
            }
            case "AvgPool2d":
            {
                var k = Pair(node, "kernel_size");
                return nn.AvgPool2d(k, Pair(node, "stride", k), Pair(node, "padding", (0, 0))); // count_include_pad: true in both
            }
            case "AdaptiveAvgPool2d":
                return nn.AdaptiveAvgPool2d(Pair(node, "output_size"));
            case "Flatten":
                return nn.Flatten(Long(node, "start_dim", 1), Long(node, "end_dim", -1));
            case "Dropout":
                return nn.Dropout(Double(node, "p", 0.5));
            case "Identity":
                return nn.Identity();
            case "ReLU":
                return nn.ReLU();
            case "LeakyReLU":
                return nn.LeakyReLU(Double(node, "negative_slope", 0.01));
            case "GELU":
                return nn.GELU();
            case "Sigmoid":
                return nn.Sigmoid();
            case "Tanh":
                return nn.Tanh();
            default:
                throw new NotSupportedException($"TorchSharp twin: layer {Where(path)} is a {type}, which the bench cannot build in TorchSharp; expected Sequential, Residual, Conv2d, Linear, BatchNorm1d, BatchNorm2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, Identity, ReLU, LeakyReLU, GELU, Sigmoid or Tanh.");
        }
    }

    /// <summary>
    /// Copies every parameter and running statistic of <paramref name="source"/> into <paramref name="target"/> by
    /// state_dict name and checks that the two hold exactly the same names and shapes (num_batches_tracked, a counter
    /// that batch norm with a momentum does not read, is left out on both sides).
    /// </summary>
    /// <returns>The number of tensors copied.</returns>
    /// <exception cref="InvalidOperationException">A name on one side only, or a shape that differs.</exception>
    public static int CopyWeights(Sharpgrad.NN.Module source, nn.Module target)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        static bool Counted(string name) => !name.EndsWith("num_batches_tracked", StringComparison.Ordinal);
        var sd = target.state_dict();
        var theirs = sd.Keys.Where(Counted).ToHashSet(StringComparer.Ordinal);
        var ours = source.StateDict().Where(e => Counted(e.Name)).ToList();
        var missing = ours.Select(e => e.Name).Where(n => !theirs.Contains(n)).ToList();
        var extra = theirs.Except(ours.Select(e => e.Name)).ToList();
        if (missing.Count > 0 || extra.Count > 0)
            throw new InvalidOperationException($"TorchSharp twin: state_dict names differ: only in Sharpgrad [{string.Join(", ", missing)}], only in TorchSharp [{string.Join(", ", extra)}].");
        using (torch.no_grad())
        {
            foreach (var (name, t) in ours)
            {
                long[] shape = [.. t.Shape.Select(d => (long)d)];
                if (!sd[name].shape.SequenceEqual(shape))
                    throw new InvalidOperationException($"TorchSharp twin: {name} is [{string.Join(",", shape)}] in Sharpgrad but [{string.Join(",", sd[name].shape)}] in TorchSharp.");
                using var value = torch.tensor(t.ToArray(), shape);
                sd[name].copy_(value);
            }
        }
        return ours.Count;
    }

    private static string Where(string path) => path.Length == 0 ? "(the model itself)" : path;

    private static string Child(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";

    private static long Long(JsonObject n, string name, long? fallback = null) =>
        n[name] is JsonNode v ? v.GetValue<long>() : fallback ?? throw new NotSupportedException($"TorchSharp twin: a {n["type"]} has no \"{name}\".");

    private static double Double(JsonObject n, string name, double fallback) => n[name] is JsonNode v ? v.GetValue<double>() : fallback;

    private static bool Bool(JsonObject n, string name, bool fallback) => n[name] is JsonNode v ? v.GetValue<bool>() : fallback;

    // an integer or a [height, width] pair, as PyTorch's kernel_size, stride and padding
    private static (long, long) Pair(JsonObject n, string name, (long, long)? fallback = null) => n[name] switch
    {
        JsonArray a when a.Count == 2 => (a[0]!.GetValue<long>(), a[1]!.GetValue<long>()),
        JsonValue v => (v.GetValue<long>(), v.GetValue<long>()),
        null when fallback is not null => fallback.Value,
        _ => throw new NotSupportedException($"TorchSharp twin: a {n["type"]}'s \"{name}\" is missing or not an integer or [height, width] pair."),
    };
}

/// <summary>Sharpgrad's Residual in TorchSharp: body(x) + shortcut(x), children "body" and "shortcut" as in the state_dict.</summary>
internal sealed class TorchResidual : nn.Module<TTensor, TTensor>
{
    private readonly nn.Module<TTensor, TTensor> _body, _shortcut;

    public TorchResidual(nn.Module<TTensor, TTensor> body, nn.Module<TTensor, TTensor> shortcut) : base("Residual")
    {
        _body = body;
        _shortcut = shortcut;
        register_module("body", body);
        register_module("shortcut", shortcut);
    }

    public override TTensor forward(TTensor input) => _body.forward(input) + _shortcut.forward(input);
}
