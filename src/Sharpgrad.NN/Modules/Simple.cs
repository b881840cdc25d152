
namespace Sharpgrad.NN;

/// <summary>Flattens dimensions from <see cref="StartDim"/> on: (N, C, H, W) -> (N, C*H*W).</summary>
public sealed class Flatten(int startDim = 1, int endDim = -1) : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => StartDim >= 1; // from dimension 1 on: each sample flattened on its own

    /// <summary>First flattened dimension.</summary>
    public int StartDim { get; } = startDim;

    /// <summary>Last flattened dimension.</summary>
    public int EndDim { get; } = endDim;

    /// <inheritdoc/>
    public override string ExtraRepr => $"start_dim={StartDim}, end_dim={EndDim}";

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => new() { ["start_dim"] = StartDim, ["end_dim"] = EndDim };

    /// <inheritdoc/>
    public override LayerSummary Summarize(int[] inputShape, int[] outputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(outputShape);
        return new("Flatten", ChannelsText: inputShape.Length == 4 && outputShape.Length == 2
            ? $"{outputShape[1]} = {inputShape[1]}*{inputShape[2]}*{inputShape[3]}" : null);
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Flatten(StartDim, EndDim);
    }

    /// <summary>
    /// ONNX Flatten (axis 1) for the usual start_dim 1 to the last dimension; otherwise Reshape to the flattened
    /// shape (the batch copied, or -1 where the batch is flattened in).
    /// </summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var shape = graph.ShapeOf(input);
        if (shape is null)
        {
            if (StartDim == 1 && EndDim == -1) return graph.AddNode("Flatten", [input], OnnxAttribute.Int("axis", 1));
            throw UnsupportedOnnx(graph, $"from dimension {StartDim} to {EndDim} needs its input's shape, which the export does not know here (the input comes from a node inside a layer)");
        }
        int rank = shape.Count;
        int start = StartDim < 0 ? StartDim + rank : StartDim, end = EndDim < 0 ? EndDim + rank : EndDim;
        if (start < 0 || end >= rank || start > end)
            throw UnsupportedOnnx(graph, $"cannot flatten dimensions {StartDim}..{EndDim} of a value of rank {rank}");
        if (start == end) return input;
        if (start == 1 && end == rank - 1) return graph.AddNode("Flatten", [input], OnnxAttribute.Int("axis", 1));
        var target = new List<long>();
        for (int d = 0; d < start; d++) target.Add(d == 0 ? 0 : shape[d]); // 0: copy the (dynamic) batch
        target.Add(start == 0 ? -1 : shape.Skip(start).Take(end - start + 1).Aggregate(1L, (a, b) => a * b));
        for (int d = end + 1; d < rank; d++) target.Add(shape[d]);
        return graph.AddNode("Reshape", [input, graph.AddInt64Constant([.. target])]);
    }
}

/// <summary>max(x, 0), element-wise.</summary>
public sealed class ReLU : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => [];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Relu();
    }

    /// <summary>ONNX Relu.</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("Relu", [input]);
    }
}

/// <summary>1 / (1 + e^-x), element-wise.</summary>
public sealed class Sigmoid : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => [];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Sigmoid();
    }

    /// <summary>ONNX Sigmoid.</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("Sigmoid", [input]);
    }
}

/// <summary>tanh(x), element-wise.</summary>
public sealed class Tanh : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => [];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Tanh();
    }

    /// <summary>ONNX Tanh.</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("Tanh", [input]);
    }
}

/// <summary>Step activation: 1 where x &gt;= 0, else 0. Its gradient is exactly zero, so nothing before it learns.</summary>
public sealed class Step : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => [];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.Step();
    }

    /// <summary>ONNX GreaterOrEqual(x, 0) cast to float: 1 where x &gt;= 0, 0 elsewhere (NaN included).</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var mask = graph.AddNode("GreaterOrEqual", [input, graph.AddConstant(Tensor.Zeros([]))]);
        return graph.AddNode("Cast", [mask], OnnxAttribute.Int("to", 1)); // 1: TensorProto.FLOAT
    }
}

/// <summary>
/// Dropout with inverted scaling: in training each element is zeroed with probability P and the rest scaled by
/// 1 / (1 - P); identity in evaluation.
/// </summary>
public sealed class Dropout : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <summary>Creates the layer; masks come from <paramref name="generator"/> (default: <see cref="Generator.Default"/>).</summary>
    public Dropout(double p = 0.5, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability must be in [0, 1], got {p}.");
        P = p;
        Generator = generator;
    }

    /// <summary>Probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>Source of the masks; null uses <see cref="Sharpgrad.Generator.Default"/>.</summary>
    public Generator? Generator { get; set; }

    /// <inheritdoc/>
    public override string ExtraRepr => $"p={P:g}";

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => new() { ["p"] = P };

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Training ? input.Dropout(P, Generator) : input;
    }

    /// <summary>Nothing: dropout is the identity in evaluation mode, which is what an export writes.</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input) => input;
}

/// <summary>Runs its children in order; they are named "0", "1", ... as in PyTorch.</summary>
public sealed class Sequential : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => _layers.All(l => l.IsPerSample);

    private readonly List<Module> _layers = [];

    /// <summary>Creates the container.</summary>
    public Sequential(params Module[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        foreach (var l in layers) Add(l);
    }

    /// <summary>Appends a layer.</summary>
    public void Add(Module layer)
    {
        RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        _layers.Add(layer);
        _plan = null; // layer by layer until fused again
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Module> Layers => _layers;

    /// <summary>Layer <paramref name="index"/>.</summary>
    public Module this[int index] => _layers[index];

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() =>
        new() { ["layers"] = new System.Text.Json.Nodes.JsonArray([.. _layers.Select(l => (System.Text.Json.Nodes.JsonNode)ModelSpec.Describe(l))]) };

    internal static Sequential FromSpec(SpecReader r) => new([.. r.Modules("layers")]);

    private List<(int First, FusedStep? Step, string Text)>? _plan;

    /// <summary>
    /// How <see cref="Forward"/> runs the layers: one line per step. Layer by layer ("0: Conv2d", ...) until
    /// <see cref="Fuse"/>; after it, each layer may take the layers after it into one fused step that it offers
    /// (<see cref="Module.FuseWith"/>: e.g. "0+1: Conv2d+ReLU fused"), with bitwise the values, gradients and running
    /// statistics of the layers run one by one (a batch norm folded into a convolution in evaluation without
    /// gradients, "0+1+2: Conv2d+BatchNorm2d+ReLU: ...", equals them up to float rounding).
    /// </summary>
    public IReadOnlyList<string> Plan => _plan?.Select(p => p.Text).ToList()
        ?? [.. _layers.Select((l, i) => $"{i}: {l.TypeName}")];

    /// <inheritdoc/>
    public override Module Fuse()
    {
        base.Fuse();
        var plan = new List<(int, FusedStep?, string)>();
        for (int i = 0; i < _layers.Count; i++)
        {
            var step = _layers[i].FuseWith([.. _layers.Skip(i + 1)]);
            if (step is not null && step.Count >= 2 && i + step.Count <= _layers.Count)
            {
                plan.Add((i, step, string.Join("+", Enumerable.Range(i, step.Count)) + ": " + step.Description));
                i += step.Count - 1;
                continue;
            }
            plan.Add((i, null, $"{i}: {_layers[i].TypeName}"));
        }
        _plan = plan;
        return this;
    }

    /// <summary>Runs the layers in order, following <see cref="Plan"/> (layer by layer while a trace watches each layer or a layer has a forward hook).</summary>
    public override Tensor Forward(Tensor input)
    {
        var x = input;
        if (_plan is null || Tracing || _layers.Any(l => l.HasForwardHooks))
        {
            foreach (var layer in _layers) x = layer.Call(x);
            return x;
        }
        foreach (var (i, step, _) in _plan) x = step is null ? _layers[i].Call(x) : step.Forward(x);
        return x;
    }

    /// <summary>Each layer in order, one by one (the fused plan computes the same values).</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var x = input;
        foreach (var layer in _layers) x = graph.Export(layer, x);
        return x;
    }
}

/// <summary>Returns its input unchanged (a placeholder, e.g. a residual block's plain shortcut).</summary>
public sealed class Identity : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => [];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input ?? throw new ArgumentNullException(nameof(input));

    /// <summary>Nothing: the output is the input.</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input) => input;
}

/// <summary>max(x, 0) + negative_slope * min(x, 0), element-wise.</summary>
public sealed class LeakyReLU(double negativeSlope = 0.01) : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <summary>Slope for negative inputs.</summary>
    public double NegativeSlope { get; } = negativeSlope;

    /// <inheritdoc/>
    public override string ExtraRepr => $"negative_slope={NegativeSlope.ToString("g", System.Globalization.CultureInfo.InvariantCulture)}";

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => new() { ["negative_slope"] = NegativeSlope };

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => (input ?? throw new ArgumentNullException(nameof(input))).LeakyRelu(NegativeSlope);

    /// <summary>ONNX LeakyRelu with alpha = negative_slope.</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("LeakyRelu", [input], OnnxAttribute.Float("alpha", (float)NegativeSlope));
    }
}

/// <summary>GELU, x Phi(x) with the exact normal CDF (PyTorch's default, approximate='none'), element-wise.</summary>
public sealed class GELU : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => [];

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => (input ?? throw new ArgumentNullException(nameof(input))).Gelu();

    /// <summary>
    /// x * 0.5 * (1 + erf(x / sqrt(2))) from ONNX Div, Erf, Add and Mul (opset 17 has no Gelu operator; PyTorch's
    /// exporter writes the same composition).
    /// </summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var scaled = graph.AddNode("Div", [input, graph.AddConstant(Tensor.Full([], Math.Sqrt(2)))]);
        var erf = graph.AddNode("Erf", [scaled]);
        var onePlus = graph.AddNode("Add", [erf, graph.AddConstant(Tensor.Ones([]))]);
        return graph.AddNode("Mul", [graph.AddNode("Mul", [input, onePlus]), graph.AddConstant(Tensor.Full([], 0.5))]);
    }
}
