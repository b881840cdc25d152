namespace Sharpgrad.NN;

/// <summary>
/// Batch normalization exactly as PyTorch: eps 1e-5, momentum 0.1, learnable weight (gamma) and bias (beta),
/// running mean and unbiased running variance, num_batches_tracked; evaluation uses the running statistics.
/// </summary>
public abstract class BatchNormBase : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true; // in evaluation: the running statistics, not the batch's

    private protected BatchNormBase(int numFeatures, double eps, double momentum, bool affine, int[] rank)
    {
        if (numFeatures < 1) throw new ArgumentException($"{TypeName}: numFeatures must be positive, got {numFeatures}.");
        NumFeatures = numFeatures;
        Eps = eps;
        Momentum = momentum;
        _rank = rank;
        if (affine)
        {
            Weight = RegisterParameter("weight", Tensor.Ones([numFeatures]));
            Bias = RegisterParameter("bias", Tensor.Zeros([numFeatures]));
        }
        RunningMean = RegisterBuffer("running_mean", Tensor.Zeros([numFeatures]));
        RunningVar = RegisterBuffer("running_var", Tensor.Ones([numFeatures]));
        NumBatchesTracked = RegisterBuffer("num_batches_tracked", Tensor.Zeros([], DType.Float64));
    }

    private readonly int[] _rank;

    /// <summary>Channels C.</summary>
    public int NumFeatures { get; }

    /// <summary>Added to the variance.</summary>
    public double Eps { get; }

    /// <summary>Weight of the newest batch in the running statistics.</summary>
    public double Momentum { get; }

    /// <summary>gamma (C), or null when not affine.</summary>
    public Parameter? Weight { get; }

    /// <summary>beta (C), or null when not affine.</summary>
    public Parameter? Bias { get; }

    /// <summary>Running mean (C).</summary>
    public Tensor RunningMean { get; }

    /// <summary>Running unbiased variance (C).</summary>
    public Tensor RunningVar { get; }

    /// <summary>Number of training batches seen (a scalar).</summary>
    public Tensor NumBatchesTracked { get; }

    /// <inheritdoc/>
    public override string ExtraRepr => $"{NumFeatures}, eps={Eps:g}, momentum={Momentum:g}, affine={(Weight is null ? "False" : "True")}, track_running_stats=True";

    /// <inheritdoc/>
    public override LayerSummary Summarize(int[] inputShape, int[] outputShape) =>
        new("BatchNorm", ParameterFormula: Weight is null ? null : $"2*{NumFeatures} (gamma, beta)");

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => new()
    {
        ["num_features"] = NumFeatures,
        ["eps"] = Eps,
        ["momentum"] = Momentum,
        ["affine"] = Weight is not null,
    };

    /// <inheritdoc/>
    public override bool FoldsIntoConvolution => true;

    /// <summary>
    /// scale = gamma / sqrt(running_var + eps) and shift = beta - running_mean * scale, each (C): the map that
    /// evaluation mode computes, (x - running_mean) / sqrt(running_var + eps) * gamma + beta, in one multiply-add
    /// (equal up to float rounding). gamma = 1 and beta = 0 when the layer is not affine.
    /// </summary>
    public override (Tensor Scale, Tensor Shift) ChannelAffine()
    {
        using var _ = Tensor.NoGrad();
        var std = RunningVar.Add(Eps).Sqrt();
        var scale = Weight is null ? Tensor.OnesLike(std).Div(std) : Weight.Data.Div(std);
        var shift = RunningMean.Mul(scale).Neg();
        if (Bias is not null) shift = shift.Add(Bias.Data);
        return (scale, shift);
    }

    // x: (N,C,...) -> same shape
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, relu: false);

    /// <summary>
    /// max(Forward(x), 0) as one op (<see cref="Tensor.BatchNormRelu"/>: bitwise this layer then ReLU, values,
    /// gradients and running statistics, with fewer passes over memory). x: (N,C,...) -> the same shape.
    /// </summary>
    /// <exception cref="ArgumentException">x of another rank or channel count; the message names the layer and the shape.</exception>
    public Tensor ForwardRelu(Tensor input) => Forward(input, relu: true);

    private Tensor Forward(Tensor input, bool relu)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!_rank.Contains(input.Rank) || input.Size(1) != NumFeatures)
            throw new ArgumentException($"{TypeName}: expected input of rank {string.Join(" or ", _rank)} with {NumFeatures} channels in dimension 1, got [{string.Join(",", input.Shape)}].");
        if (Training && input.NumElements <= NumFeatures)
            throw new ArgumentException($"{TypeName}: expected more than 1 value per channel when training, got input [{string.Join(",", input.Shape)}] (batch statistics need at least two values; put the model in evaluation mode for a single sample).");
        var y = relu
            ? Tensor.BatchNormRelu(input, RunningMean, RunningVar, Weight?.Data, Bias?.Data, Training, Momentum, Eps)
            : Tensor.BatchNorm(input, RunningMean, RunningVar, Weight?.Data, Bias?.Data, Training, Momentum, Eps);
        if (Training) NumBatchesTracked.AsSpan<double>()[0]++; // counted once the batch is taken (a refused one leaves nothing changed)
        return y;
    }

    // off: models fused on this thread fuse no norm with its ReLU (the tests' and benchmarks' unfused side)
    [ThreadStatic] private static bool t_keepsReluApart;

    internal static bool FusesRelu { get => !t_keepsReluApart; set => t_keepsReluApart = !value; }

    /// <summary>A ReLU right after the norm runs with it as one op (<see cref="ForwardRelu"/>).</summary>
    public override FusedStep? FuseWith(IReadOnlyList<Module> following)
    {
        ArgumentNullException.ThrowIfNull(following);
        return FusesRelu && following.Count > 0 && following[0] is ReLU ? new FusedStep(2, $"{TypeName}+ReLU fused (the ReLU applied as the norm stores; its mask recomputed from x in the backward)", ForwardRelu) : null;
    }

    /// <summary>
    /// ONNX BatchNormalization in inference mode: the running mean and variance (and gamma, beta) as initializers, or
    /// constant ones and zeros when not affine; num_batches_tracked is not needed and not written.
    /// </summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var scale = Weight is null ? graph.AddConstant(Tensor.Ones([NumFeatures])) : graph.AddParameter(this, "weight", Weight.Data);
        var shift = Bias is null ? graph.AddConstant(Tensor.Zeros([NumFeatures])) : graph.AddParameter(this, "bias", Bias.Data);
        return graph.AddNode("BatchNormalization",
            [input, scale, shift, graph.AddParameter(this, "running_mean", RunningMean), graph.AddParameter(this, "running_var", RunningVar)],
            OnnxAttribute.Float("epsilon", (float)Eps));
    }
}

/// <summary>BatchNorm over (N, C) or (N, C, L).</summary>
public sealed class BatchNorm1d(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true)
    : BatchNormBase(numFeatures, eps, momentum, affine, [2, 3]);

/// <summary>BatchNorm over (N, C, H, W).</summary>
public sealed class BatchNorm2d(int numFeatures, double eps = 1e-5, double momentum = 0.1, bool affine = true)
    : BatchNormBase(numFeatures, eps, momentum, affine, [4]);
