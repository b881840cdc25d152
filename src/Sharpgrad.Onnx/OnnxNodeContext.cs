using Sharpgrad.NN;
using System.Globalization;
using AttrType = Sharpgrad.Onnx.AttributeProto.Types.AttributeType;

namespace Sharpgrad.Onnx;

/// <summary>
/// One node as the importer compiles it: its attributes (each read at most once, checked by type), its opset and a
/// label for messages. Attributes the operator's builder never reads are refused by <see cref="CheckAllRead"/>.
/// </summary>
internal sealed class OnnxNodeContext
{
    private readonly Dictionary<string, AttributeProto> _attributes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public OnnxNodeContext(NodeProto node, int index, long opset, string file)
    {
        Node = node;
        Opset = opset;
        File = file;
        Label = Printable(node.Name.Length > 0 ? node.Name : $"#{index}" + (node.Output.Count > 0 ? $" -> {node.Output[0]}" : ""));
        foreach (var a in node.Attribute)
            if (!_attributes.TryAdd(a.Name, a)) throw Malformed($"attribute '{a.Name}' appears twice");
    }

    public NodeProto Node { get; }

    public string Op => Node.OpType;

    public long Opset { get; }

    public string File { get; }

    /// <summary>The node's name, or its index and first output when it has none.</summary>
    public string Label { get; }

    private string Where => $"{File}: ONNX operator {Printable(Op)} (node '{Label}', opset {Opset})";

    /// <summary>
    /// <paramref name="text"/> with control and line-separator characters written as \xNN or \uNNNN, so that a
    /// name read from a file cannot break a one-line message.
    /// </summary>
    public static string Printable(string text)
    {
        if (!text.Any(IsUnprintable)) return text;
        var sb = new System.Text.StringBuilder(text.Length + 8);
        foreach (char ch in text)
            if (!IsUnprintable(ch)) sb.Append(ch);
            else if (ch < 0x100) sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)ch:x2}");
            else sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)ch:x4}");
        return sb.ToString();
    }

    private static bool IsUnprintable(char ch) => char.IsControl(ch) || ch is '\u2028' or '\u2029';

    /// <summary>An operator, attribute or value outside what the importer supports (one line naming the operator, node and opset).</summary>
    public DataException Unsupported(string what) => new($"{Where}: {what} is not supported.");

    /// <summary>A node that breaks ONNX's rules.</summary>
    public DataException Malformed(string what) => new($"{Where}: {what}.");

    public bool Has(string name) => _attributes.ContainsKey(name);

    private AttributeProto? Get(string name, AttrType type)
    {
        if (!_attributes.TryGetValue(name, out var a)) return null;
        _read.Add(name);
        if (a.Type != type && a.Type != AttrType.Undefined)
            throw Malformed($"attribute '{name}' is {a.Type}, expected {type}");
        return a;
    }

    public long Int(string name, long fallback) => Get(name, AttrType.Int)?.I ?? fallback;

    public float Float(string name, float fallback) => Get(name, AttrType.Float)?.F ?? fallback;

    public string String(string name, string fallback) => Get(name, AttrType.String)?.S.ToStringUtf8() ?? fallback;

    public long[]? Ints(string name) => Get(name, AttrType.Ints)?.Ints.ToArray();

    public float[]? Floats(string name) => Get(name, AttrType.Floats)?.Floats.ToArray();

    public TensorProto? Tensor(string name) => Get(name, AttrType.Tensor)?.T;

    /// <summary>Marks an attribute as understood without reading it (one with no effect on inference).</summary>
    public void Ignore(string name) => _read.Add(name);

    /// <summary>Refuses any attribute the operator's builder did not read.</summary>
    public void CheckAllRead()
    {
        foreach (var name in _attributes.Keys)
            if (!_read.Contains(name)) throw Unsupported($"attribute '{name}'");
    }

    /// <summary>An int attribute that must take one of <paramref name="allowed"/>.</summary>
    public long IntIn(string name, long fallback, params long[] allowed)
    {
        long v = Int(name, fallback);
        if (!allowed.Contains(v)) throw Unsupported($"attribute {name}={v.ToString(CultureInfo.InvariantCulture)}");
        return v;
    }

    /// <summary>An ints attribute whose values must all be 1 (dilations).</summary>
    public void AllOnes(string name)
    {
        var v = Ints(name);
        if (v is not null && v.Any(d => d != 1)) throw Unsupported($"attribute {name}=[{string.Join(",", v)}] (only 1s)");
    }
}
