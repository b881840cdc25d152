namespace Sharpgrad.NN;

/// <summary>Fully connected layer. x: (N, in) -> (N, out) = x W^T + b, W: (out, in), b: (out).</summary>
public sealed class Linear : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <summary>Creates the layer with PyTorch's default initialisation.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
    {
        if (inFeatures < 1 || outFeatures < 1)
            throw new ArgumentException($"Linear: feature counts must be positive, got in={inFeatures}, out={outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", Init.KaimingUniform([outFeatures, inFeatures], inFeatures, generator));
        if (bias) Bias = RegisterParameter("bias", Init.BiasUniform(outFeatures, inFeatures, generator));
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }

    /// <summary>Output features.</summary>
    public int OutFeatures { get; }

    /// <summary>(out, in).</summary>
    public Parameter Weight { get; }

    /// <summary>(out), or null.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override string ExtraRepr => $"in_features={InFeatures}, out_features={OutFeatures}, bias={(Bias is null ? "False" : "True")}";

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => new()
    {
        ["in_features"] = InFeatures,
        ["out_features"] = OutFeatures,
        ["bias"] = Bias is not null,
    };

    internal static Linear FromSpec(SpecReader r)
    {
        int inFeatures = r.Int("in_features"), outFeatures = r.Int("out_features");
        bool bias = r.Bool("bias", true);
        if (inFeatures > 0 && outFeatures > 0) r.Reserve((long)inFeatures * outFeatures + (bias ? outFeatures : 0));
        return new(inFeatures, outFeatures, bias, r.Generator);
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Parameter Parameter)> PrunableParameters() => [("weight", Weight)];

    /// <inheritdoc/>
    public override LayerSummary Summarize(int[] inputShape, int[] outputShape)
    {
        ArgumentNullException.ThrowIfNull(outputShape);
        long rows = outputShape.Length > 1 ? outputShape[1..^1].Aggregate(1L, (a, b) => a * b) : 1; // per input: leading dims beyond the batch
        return new LayerSummary("FC", ParameterFormula: Bias is null ? $"{InFeatures}*{OutFeatures}" : $"{InFeatures}*{OutFeatures} + {OutFeatures}",
            Macs: rows * InFeatures * OutFeatures);
    }

    // x: (N, in) -> (N, out)
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        Check(input);
        return Tensor.Linear(input, Weight.Data, Bias?.Data);
    }

    /// <summary>
    /// Linear followed by ReLU runs as one op, <see cref="Tensor.LinearRelu"/> (the bias and the ReLU applied as the
    /// product's tiles are finished), with bitwise the values and gradients of the two layers run one by one.
    /// </summary>
    public override FusedStep? FuseWith(IReadOnlyList<Module> following)
    {
        ArgumentNullException.ThrowIfNull(following);
        if (following.Count == 0 || following[0] is not ReLU) return null;
        return new FusedStep(2, "Linear+ReLU fused", x =>
        {
            Check(x);
            return Tensor.LinearRelu(x, Weight.Data, Bias?.Data);
        });
    }

    private void Check(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank < 1 || input.Size(-1) != InFeatures)
            throw new ArgumentException($"Linear: expected input with {InFeatures} features in its last dimension, got shape [{string.Join(",", input.Shape)}].");
    }

    /// <summary>
    /// ONNX Gemm (transB = 1: x W^T + b) for a (N, in) input; MatMul with the transposed weight, then Add, for inputs
    /// of higher rank or of a shape the writer does not know.
    /// </summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var weight = graph.AddParameter(this, "weight", Weight.Data);
        var bias = Bias is null ? null : graph.AddParameter(this, "bias", Bias.Data);
        if (graph.ShapeOf(input)?.Count == 2)
            return graph.AddNode("Gemm", bias is null ? [input, weight] : [input, weight, bias], OnnxAttribute.Int("transB", 1));
        var y = graph.AddNode("MatMul", [input, graph.AddNode("Transpose", [weight], OnnxAttribute.Ints("perm", 1, 0))]);
        return bias is null ? y : graph.AddNode("Add", [y, bias]);
    }
}
