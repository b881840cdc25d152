namespace Sharpgrad.NN;

/// <summary>
/// A graph being written in ONNX form, as a layer sees it (<see cref="Module.ExportOnnx"/>): nodes of ONNX
/// operators on named values, parameters and buffers as initializers named by their state_dict names, and the shapes
/// of the values that layers exchange. Sharpgrad.Onnx implements it with protobuf (OnnxExport); this library only
/// speaks through this contract. Values are float32 tensors whose dimension 0 is the (dynamic) batch.
/// </summary>
public interface IOnnxGraphWriter
{
    /// <summary>
    /// Adds a node of ONNX operator <paramref name="opType"/> (default domain, the writer's opset) on
    /// <paramref name="inputs"/> ("" for an omitted optional input) with one output, and returns the output's fresh
    /// name.
    /// </summary>
    string AddNode(string opType, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes);

    /// <summary>
    /// Adds <paramref name="value"/> (a parameter or buffer of <paramref name="owner"/> registered as
    /// <paramref name="name"/>) as a float32 initializer named by its state_dict name (e.g. "features.0.weight") and
    /// returns that name. Adding the same tensor twice (a shared layer) returns the same name.
    /// </summary>
    string AddParameter(Module owner, string name, Tensor value);

    /// <summary>A float32 constant (a Constant node, not an initializer), e.g. a scalar 0.5; returns its name.</summary>
    string AddConstant(Tensor value);

    /// <summary>An int64 constant of shape [values.Length] (a Constant node), e.g. Reshape's target shape; returns its name.</summary>
    string AddInt64Constant(params long[] values);

    /// <summary>
    /// Writes <paramref name="module"/> applied to <paramref name="input"/> (through its <see cref="Module.ExportOnnx"/>)
    /// and returns its output's name; containers export their children this way, so that every layer's output has
    /// a known shape (<see cref="ShapeOf"/>) and its parameters their state_dict names.
    /// </summary>
    string Export(Module module, string input);

    /// <summary>
    /// The shape of a value that a layer takes or gives (the graph's input, or the output of <see cref="Export"/>
    /// on a value whose shape is known) for a batch of one: dimension 0 is the batch, 1 here and dynamic in the
    /// graph. Null for a value made by a node inside a layer (e.g. a custom module's Add), whose shape the writer
    /// does not compute.
    /// </summary>
    IReadOnlyList<int>? ShapeOf(string value);

    /// <summary>The module's path in the exported model, as in the state_dict ("features.0"; "" for the model itself).</summary>
    string PathOf(Module module);
}

/// <summary>One attribute of an ONNX node: an integer, a list of integers, a float or a string.</summary>
public sealed class OnnxAttribute
{
    private OnnxAttribute(string name, object value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Value = value;
    }

    /// <summary>The attribute's name, as ONNX's operator definition spells it (e.g. "kernel_shape").</summary>
    public string Name { get; }

    /// <summary>A <see cref="long"/>, a <see cref="long"/>[], a <see cref="float"/> or a <see cref="string"/>.</summary>
    public object Value { get; }

    /// <summary>An INT attribute.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, value);

    /// <summary>An INTS attribute.</summary>
    public static OnnxAttribute Ints(string name, params long[] values) => new(name, (long[])(values ?? throw new ArgumentNullException(nameof(values))).Clone());

    /// <summary>A FLOAT attribute.</summary>
    public static OnnxAttribute Float(string name, float value) => new(name, value);

    /// <summary>A STRING attribute.</summary>
    public static OnnxAttribute String(string name, string value) => new(name, value ?? throw new ArgumentNullException(nameof(value)));
}

/// <summary>The attributes that ONNX's Conv, MaxPool and AveragePool share for a square window.</summary>
internal static class OnnxWindow
{
    /// <summary>kernel_shape (k, k), strides (s, s) and pads (p, p, p, p): ONNX orders pads as all begins, then all ends.</summary>
    public static OnnxAttribute[] Attributes(int kernel, int stride, int padding) =>
        Attributes((kernel, kernel), (stride, stride), (padding, padding));

    /// <summary>kernel_shape (kh, kw), strides (sh, sw) and pads (ph, pw, ph, pw): all begins, then all ends.</summary>
    public static OnnxAttribute[] Attributes((int H, int W) kernel, (int H, int W) stride, (int H, int W) padding) =>
    [
        OnnxAttribute.Ints("kernel_shape", kernel.H, kernel.W),
        OnnxAttribute.Ints("strides", stride.H, stride.W),
        OnnxAttribute.Ints("pads", padding.H, padding.W, padding.H, padding.W),
    ];
}
