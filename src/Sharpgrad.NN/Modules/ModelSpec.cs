using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sharpgrad.NN;

/// <summary>
/// Architectures as data: a module tree written as JSON, each layer as its PyTorch type name and PyTorch's argument
/// names, containers holding their children. A model file reads
/// <code>
/// { "format": "sharpgrad-model/1",
///   "model": { "type": "Sequential", "layers": [
///     { "type": "Conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 3, "padding": 1 },
///     { "type": "ReLU" }, { "type": "MaxPool2d", "kernel_size": 2 }, { "type": "Flatten" },
///     { "type": "Linear", "in_features": 1568, "out_features": 10 } ] } }
/// </code>
/// Arguments left out take PyTorch's defaults. A layer says how it is written by overriding
/// <see cref="Module.DescribeArguments"/>, and is read back by the builder registered for its type name (every
/// built-in layer is registered; <see cref="Register"/> adds a user's own). Errors name the file, the layer's path
/// in the state dict (e.g. "layer 3.body.0 (Conv2d)") and what was expected.
/// </summary>
public static class ModelSpec
{
    /// <summary>The schema version this library writes and reads.</summary>
    public const string Format = "sharpgrad-model/1";

    private static readonly Dictionary<string, Func<SpecReader, Module>> Builders = new(StringComparer.Ordinal)
    {
        ["Sequential"] = Sequential.FromSpec,
        ["Residual"] = Residual.FromSpec,
        ["Conv2d"] = Conv2d.FromSpec,
        ["Linear"] = Linear.FromSpec,
        ["BatchNorm1d"] = r => new BatchNorm1d(r.Features("num_features", 4), r.Double("eps", 1e-5), r.Double("momentum", 0.1), r.Bool("affine", true)),
        ["BatchNorm2d"] = r => new BatchNorm2d(r.Features("num_features", 4), r.Double("eps", 1e-5), r.Double("momentum", 0.1), r.Bool("affine", true)),
        ["MaxPool2d"] = r => Pool2dBase.ReadWindow(r) is var (k, s, p) ? new MaxPool2d(k, s, p) : null!,
        ["AvgPool2d"] = r => Pool2dBase.ReadWindow(r) is var (k, s, p) ? new AvgPool2d(k, s, p) : null!,
        ["AdaptiveAvgPool2d"] = AdaptiveAvgPool2d.FromSpec,
        ["Flatten"] = r => new Flatten(r.Int("start_dim", 1), r.Int("end_dim", -1)),
        ["Dropout"] = r => new Dropout(r.Double("p", 0.5), r.Generator),
        ["Identity"] = _ => new Identity(),
        ["ReLU"] = _ => new ReLU(),
        ["Sigmoid"] = _ => new Sigmoid(),
        ["Tanh"] = _ => new Tanh(),
        ["LeakyReLU"] = r => new LeakyReLU(r.Double("negative_slope", 0.01)),
        ["GELU"] = _ => new GELU(),
        ["Step"] = _ => new Step(),
    };

    /// <summary>
    /// The most parameters (and buffers) a model file may describe, 2^25 (128 MB of float32): checked layer by layer
    /// before a layer's tensors are allocated, so a file cannot make the loader allocate more.
    /// </summary>
    public const long MaxParameters = 1L << 25;

    // parameters reserved so far by the model file being built on this thread
    [ThreadStatic]
    private static long _reserved;

    internal static void Reserve(long count, Func<string, DataException> error)
    {
        if (count < 0 || count > MaxParameters - _reserved)
            throw error($"the layer needs {count} parameters and buffers, which with the {_reserved} before it exceed the {MaxParameters} a model file may describe.");
        _reserved += count;
    }

    /// <summary>The layer types that <see cref="Build"/> knows, sorted.</summary>
    public static IReadOnlyList<string> KnownTypes => [.. Builders.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Adds (or replaces) the builder of a layer type, for a user's own modules.</summary>
    public static void Register(string type, Func<SpecReader, Module> builder)
    {
        ArgumentException.ThrowIfNullOrEmpty(type);
        ArgumentNullException.ThrowIfNull(builder);
        Builders[type] = builder;
    }

    /// <summary>One layer (and, for containers, everything below it) as a JSON object: "type" and its arguments.</summary>
    /// <exception cref="NotSupportedException">A module in the tree does not describe itself (a custom module that does not override <see cref="Module.DescribeArguments"/>).</exception>
    public static JsonObject Describe(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var args = module.DescribeArguments()
            ?? throw new NotSupportedException($"ModelSpec: {module.TypeName} has no model description; override DescribeArguments and register a builder with ModelSpec.Register to write it to a model file.");
        var node = new JsonObject { ["type"] = module.TypeName };
        foreach (var (k, v) in args.ToList())
        {
            args.Remove(k);
            node[k] = v;
        }
        return node;
    }

    /// <summary>A (height, width) argument as a model file writes it: an integer when both agree, else [height, width] (read back by <see cref="SpecReader.Pair"/>).</summary>
    internal static JsonNode IntOrPair((int H, int W) v) => v.H == v.W ? JsonValue.Create(v.H) : new JsonArray(v.H, v.W);

    /// <summary>A whole model file: the format version and the model.</summary>
    public static JsonObject ToDocument(Module model) => new() { ["format"] = Format, ["model"] = Describe(model) };

    /// <summary>Writes <paramref name="model"/>'s description to <paramref name="path"/> (indented JSON).</summary>
    public static void Save(Module model, string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        File.WriteAllText(path, ToDocument(model).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Reads a model file and builds its module tree with fresh weights drawn from <paramref name="generator"/>.</summary>
    /// <exception cref="DataException">The file is missing, not JSON, of another format version, or describes an unknown layer or a bad configuration.</exception>
    public static Module Load(string path, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new DataException($"{path}: model file not found.");
        JsonNode? doc;
        try
        {
            doc = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 512 });
        }
        catch (JsonException e)
        {
            throw new DataException($"{path}: not valid JSON ({e.Message}).", e);
        }
        return FromDocument(doc, path, generator);
    }

    /// <summary>Builds the model of a model file's content (<paramref name="source"/> names it in errors).</summary>
    /// <exception cref="DataException">Another format version, an unknown layer or a bad configuration.</exception>
    public static Module FromDocument(JsonNode? document, string source, Generator? generator = null)
    {
        try
        {
            return FromDocumentChecked(document, source, generator);
        }
        catch (InvalidOperationException e)
        {
            throw new DataException($"{source}: holds a string that is not valid Unicode ({e.Message})", e);
        }
    }

    private static Module FromDocumentChecked(JsonNode? document, string source, Generator? generator)
    {
        if (document is not JsonObject doc) throw new DataException($"{source}: expected a JSON object with \"format\" and \"model\".");
        string? format = doc["format"] is JsonValue f && f.TryGetValue<string>(out var s) ? s : null;
        if (format is not null && format.StartsWith("sharpgrad-run/", StringComparison.Ordinal) && doc["model"] is JsonObject)
            throw new DataException($"{source}: a run's model.json (format '{format}'), not a model file; to train its model anew, put its \"model\" entry in a file with \"format\": \"{Format}\" (to continue the run, resume its folder).");
        if (format != Format)
            throw new DataException($"{source}: format {(format is null ? "missing" : $"'{format}'")}; expected \"format\": \"{Format}\".");
        if (doc["model"] is null) throw new DataException($"{source}: no \"model\" entry.");
        var extra = doc.Select(kv => kv.Key).Where(k => k is not ("format" or "model")).ToList();
        if (extra.Count > 0) throw new DataException($"{source}: unknown entr{(extra.Count > 1 ? "ies" : "y")} {string.Join(", ", extra.Select(k => $"\"{k}\""))}; a model file holds \"format\" and \"model\".");
        return Build(doc["model"], source, generator);
    }

    /// <summary>Builds one layer node (and its children).</summary>
    /// <exception cref="DataException">An unknown layer type or a bad configuration, named with the layer's path.</exception>
    public static Module Build(JsonNode? node, string source, Generator? generator = null, string path = "")
    {
        ArgumentNullException.ThrowIfNull(source);
        if (path.Length > 0) return BuildLayer(node, source, generator, path);
        try
        {
            return BuildLayer(node, source, generator, path);
        }
        catch (InvalidOperationException e)
        {
            // System.Text.Json checks a string's escapes only when it is read: "\udeca" alone is not text
            throw new DataException($"{source}: holds a string that is not valid Unicode ({e.Message})", e);
        }
    }

    private static Module BuildLayer(JsonNode? node, string source, Generator? generator, string path)
    {
        string where = path.Length == 0 ? "the model" : $"layer {path}";
        if (node is not JsonObject obj) throw new DataException($"{source}: {where}: expected an object with a \"type\", got {Kind(node)}.");
        string? type = obj["type"] is JsonValue t && t.TryGetValue<string>(out var ts) ? ts : null;
        if (type is null)
            throw new DataException($"{source}: {where}: {(obj["type"] is null ? "no \"type\"" : $"\"type\" must be a string, got {obj["type"]!.ToJsonString()}")} (expected one of {string.Join(", ", KnownTypes)}).");
        if (!Builders.TryGetValue(type, out var build))
            throw new DataException($"{source}: {where}: unknown layer type '{type}'; expected one of {string.Join(", ", KnownTypes)}.");
        if (path.Length == 0) _reserved = 0; // a new model's budget
        var reader = new SpecReader(obj, source, path, type, generator);
        Module m;
        try
        {
            m = build(reader);
        }
        catch (ArgumentException e)
        {
            // .NET appends " (Parameter 'x')" to argument exceptions; the message already says what was wrong
            throw reader.Error(System.Text.RegularExpressions.Regex.Replace(e.Message, @" \(Parameter '[^']*'\)$", ""));
        }
        reader.CheckAllRead();
        return m;
    }

    internal static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject => "an object",
        JsonArray => "an array",
        JsonValue v => v.GetValueKind() switch { JsonValueKind.String => "a string", JsonValueKind.Number => "a number", _ => "a boolean" },
        _ => "something else",
    };
}

/// <summary>
/// Reads one layer's arguments from a model file and remembers which it read, so that a misspelt or unknown
/// argument is an error rather than silently ignored. Errors name the file, the layer's path and the argument.
/// </summary>
public sealed class SpecReader
{
    private readonly JsonObject _node;
    private readonly string _source;
    private readonly string _type;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal) { "type" };

    internal SpecReader(JsonObject node, string source, string path, string type, Generator? generator)
    {
        _node = node;
        _source = source;
        Path = path;
        _type = type;
        Generator = generator;
    }

    /// <summary>The layer's path in the state dict ("" for the root).</summary>
    public string Path { get; }

    /// <summary>Where a layer with parameters draws its initial weights from.</summary>
    public Generator? Generator { get; }

    /// <summary>
    /// Reserves <paramref name="count"/> parameters of the model's budget (<see cref="ModelSpec.MaxParameters"/>)
    /// before a layer allocates them; an error when the model would exceed it.
    /// </summary>
    public void Reserve(long count) => ModelSpec.Reserve(count, Error);

    /// <summary>A required positive integer <paramref name="name"/> that sizes <paramref name="perFeature"/> tensors: reserved before it is used.</summary>
    internal int Features(string name, int perFeature)
    {
        int n = Int(name);
        Reserve((long)n * perFeature);
        return n;
    }

    /// <summary>An error about this layer, naming the file, its path and its type.</summary>
    public DataException Error(string message) =>
        new($"{_source}: {(Path.Length == 0 ? "the model" : $"layer {Path}")} ({_type}): {message}");

    private JsonNode? Get(string name)
    {
        _read.Add(name);
        return _node[name];
    }

    /// <summary>A required integer.</summary>
    public int Int(string name) => OptionalInt(name) ?? throw Error($"missing \"{name}\" (an integer).");

    /// <summary>An integer, or <paramref name="fallback"/> when absent.</summary>
    public int Int(string name, int fallback) => OptionalInt(name) ?? fallback;

    /// <summary>An integer, or null when absent or null.</summary>
    public int? OptionalInt(string name)
    {
        var v = Get(name);
        if (v is null) return null;
        if (v is JsonValue j && j.GetValueKind() == JsonValueKind.Number && j.TryGetValue<int>(out var i)) return i;
        throw Error($"\"{name}\" must be an integer, got {v.ToJsonString()}.");
    }

    /// <summary>An integer or a pair [a, b] (PyTorch's int-or-tuple arguments); an integer gives (i, i).</summary>
    public (int A, int B) Pair(string name, (int, int)? fallback = null) =>
        OptionalPair(name) ?? fallback ?? throw Error($"missing \"{name}\" (an integer or a pair [a, b]).");

    /// <summary>An integer or a pair [a, b], or null when absent or null.</summary>
    public (int A, int B)? OptionalPair(string name)
    {
        var v = Get(name);
        if (v is null) return null;
        if (v is JsonValue j && j.GetValueKind() == JsonValueKind.Number && j.TryGetValue<int>(out var i)) return (i, i);
        if (v is JsonArray { Count: 2 } a && a[0] is JsonValue a0 && a0.TryGetValue<int>(out var x) && a[1] is JsonValue a1 && a1.TryGetValue<int>(out var y)) return (x, y);
        throw Error($"\"{name}\" must be an integer or a pair [a, b] of integers, got {v.ToJsonString()}.");
    }

    /// <summary>A number, or <paramref name="fallback"/> when absent.</summary>
    public double Double(string name, double fallback)
    {
        var v = Get(name);
        if (v is null) return fallback;
        if (v is JsonValue j && j.GetValueKind() == JsonValueKind.Number) return j.GetValue<double>();
        throw Error($"\"{name}\" must be a number, got {v.ToJsonString()}.");
    }

    /// <summary>A boolean, or <paramref name="fallback"/> when absent.</summary>
    public bool Bool(string name, bool fallback)
    {
        var v = Get(name);
        if (v is null) return fallback;
        if (v is JsonValue j && j.GetValueKind() is JsonValueKind.True or JsonValueKind.False) return j.GetValue<bool>();
        throw Error($"\"{name}\" must be true or false, got {v.ToJsonString()}.");
    }

    /// <summary>A child layer; its path is this layer's path + "." + <paramref name="childName"/>.</summary>
    public Module Module(string name, string childName) =>
        ModelSpec.Build(Get(name) ?? throw Error($"missing \"{name}\" (a layer object)."), _source, Generator, Join(childName));

    /// <summary>A child layer, or null when absent.</summary>
    public Module? OptionalModule(string name, string childName) =>
        Get(name) is { } v ? ModelSpec.Build(v, _source, Generator, Join(childName)) : null;

    /// <summary>A list of child layers named "0", "1", ... below this layer.</summary>
    public IReadOnlyList<Module> Modules(string name)
    {
        var v = Get(name);
        if (v is not JsonArray a) throw Error($"\"{name}\" must be an array of layer objects, got {(v is null ? "nothing" : ModelSpec.Kind(v))}.");
        return [.. a.Select((n, i) => ModelSpec.Build(n, _source, Generator, Join(i.ToString(System.Globalization.CultureInfo.InvariantCulture))))];
    }

    private string Join(string child) => Path.Length == 0 ? child : Path + "." + child;

    internal void CheckAllRead()
    {
        var unknown = _node.Select(kv => kv.Key).Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw Error($"unknown argument{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"\"{u}\""))}; this layer takes {(_read.Count > 1 ? string.Join(", ", _read.Where(r => r != "type").Select(r => $"\"{r}\"")) : "no arguments")}.");
    }
}
