namespace Sharpgrad.NN;

/// <summary>
/// 2-D convolution layer. x: (N, C, H, W), W: (OC, C / groups, KH, KW), b: (OC) -> (N, OC, OH, OW), OH = (H + 2 PH - KH) /
/// SH + 1 (likewise OW). With
/// <c>groups</c> = G the channels split into G groups convolved separately (G = C = OC: depthwise).
/// </summary>
public sealed class Conv2d : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <summary>Creates the layer with a square kernel, stride and padding and PyTorch's default initialisation (fan-in C / groups * K * K).</summary>
    /// <exception cref="ArgumentException">A non-positive size, or channels not divisible by <paramref name="groups"/>.</exception>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, Generator? generator = null, int groups = 1)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), bias, generator, groups)
    {
    }

    /// <summary>
    /// Creates the layer with a (height, width) kernel, stride and padding, as PyTorch's <c>kernel_size=(KH, KW)</c>
    /// (fan-in C / groups * KH * KW). W: (OC, C / groups, KH, KW).
    /// </summary>
    /// <exception cref="ArgumentException">A non-positive size, or channels not divisible by <paramref name="groups"/>.</exception>
    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W) stride, (int H, int W) padding, bool bias = true, Generator? generator = null, int groups = 1)
    {
        if (inChannels < 1 || outChannels < 1 || kernelSize.H < 1 || kernelSize.W < 1 || stride.H < 1 || stride.W < 1 || groups < 1)
            throw new ArgumentException($"Conv2d: in_channels, out_channels, kernel_size, stride and groups must be positive, got {inChannels}, {outChannels}, {kernelSize}, {stride}, {groups}.");
        if (padding.H < 0 || padding.W < 0) throw new ArgumentException($"Conv2d: padding must be non-negative, got {padding}.");
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"Conv2d: in_channels ({inChannels}) and out_channels ({outChannels}) must both be divisible by groups ({groups}).");
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Groups = groups;
        int fanIn = inChannels / groups * kernelSize.H * kernelSize.W;
        Weight = RegisterParameter("weight", Init.KaimingUniform([outChannels, inChannels / groups, kernelSize.H, kernelSize.W], fanIn, generator));
        if (bias) Bias = RegisterParameter("bias", Init.BiasUniform(outChannels, fanIn, generator));
    }

    /// <summary>Input channels C.</summary>
    public int InChannels { get; }

    /// <summary>Output channels (filters) OC.</summary>
    public int OutChannels { get; }

    /// <summary>Kernel height and width.</summary>
    public (int H, int W) KernelSize { get; }

    /// <summary>Stride along the height and the width.</summary>
    public (int H, int W) Stride { get; }

    /// <summary>Zero padding on each side, along the height and the width.</summary>
    public (int H, int W) Padding { get; }

    /// <summary>Channel groups (1: a full convolution; C: depthwise).</summary>
    public int Groups { get; }

    /// <summary>(OC, C / groups, KH, KW).</summary>
    public Parameter Weight { get; }

    /// <summary>(OC), or null.</summary>
    public Parameter? Bias { get; }

    /// <inheritdoc/>
    public override string ExtraRepr => $"{InChannels}, {OutChannels}, kernel_size=({KernelSize.H}, {KernelSize.W}), stride=({Stride.H}, {Stride.W}){(Padding == (0, 0) ? "" : $", padding=({Padding.H}, {Padding.W})")}{(Groups > 1 ? $", groups={Groups}" : "")}{(Bias is null ? ", bias=False" : "")}";

    // x: (N,C,H,W) -> (N,OC,OH,OW)
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Tensor.Conv2d(input, Weight.Data, Bias?.Data, Stride, Padding, Groups);

    /// <summary>ONNX Conv (kernel_shape, strides, pads, group; dilations 1) with the weight and bias as initializers.</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var weight = graph.AddParameter(this, "weight", Weight.Data);
        string[] inputs = Bias is null ? [input, weight] : [input, weight, graph.AddParameter(this, "bias", Bias.Data)];
        return graph.AddNode("Conv", inputs, [.. OnnxWindow.Attributes(KernelSize, Stride, Padding),
            OnnxAttribute.Ints("dilations", 1, 1), OnnxAttribute.Int("group", Groups)]);
    }

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => new()
    {
        ["in_channels"] = InChannels,
        ["out_channels"] = OutChannels,
        ["kernel_size"] = ModelSpec.IntOrPair(KernelSize),
        ["stride"] = ModelSpec.IntOrPair(Stride),
        ["padding"] = ModelSpec.IntOrPair(Padding),
        ["groups"] = Groups,
        ["bias"] = Bias is not null,
    };

    internal static Conv2d FromSpec(SpecReader r)
    {
        int inChannels = r.Int("in_channels"), outChannels = r.Int("out_channels");
        var k = r.Pair("kernel_size");
        var s = r.Pair("stride", (1, 1));
        var p = r.Pair("padding", (0, 0));
        int groups = r.Int("groups", 1);
        bool bias = r.Bool("bias", true);
        if (inChannels > 0 && outChannels > 0 && k.A > 0 && k.B > 0 && groups > 0)
            r.Reserve((long)inChannels / groups * outChannels * k.A * k.B + (bias ? outChannels : 0));
        return new Conv2d(inChannels, outChannels, (k.A, k.B), (s.A, s.B), (p.A, p.B), bias, r.Generator, groups);
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, Parameter Parameter)> PrunableParameters() => [("weight", Weight)];

    /// <inheritdoc/>
    public override IEnumerable<(Parameter Weight, Parameter? Bias)> PrunableFilters() => [(Weight, Bias)];

    /// <inheritdoc/>
    public override LayerSummary Summarize(int[] inputShape, int[] outputShape)
    {
        ArgumentNullException.ThrowIfNull(outputShape);
        int perGroup = InChannels / Groups;
        string fanIn = $"{perGroup}*{KernelSize.H}*{KernelSize.W}";
        bool square = KernelSize.H == KernelSize.W;
        return new LayerSummary(square ? "Conv" : $"Conv {KernelSize.H}x{KernelSize.W}", OutChannels, square ? KernelSize.H : null,
            Bias is null ? $"{fanIn} * {OutChannels}" : $"({fanIn} + 1) * {OutChannels}",
            (long)outputShape[1] * outputShape[2] * outputShape[3] * perGroup * KernelSize.H * KernelSize.W);
    }

    /// <summary>
    /// Conv2d followed by ReLU runs as one fused op (<see cref="ForwardRelu"/>); Conv2d -> ReLU -> MaxPool2d(2) runs,
    /// without gradients, as <see cref="Tensor.Conv2dReluMaxPool2d"/> (pooled as the convolution stores), and,
    /// while gradients are recorded, as Conv2d -> MaxPool2d -> ReLU (max(relu(z)) = relu(max(z)) element for element,
    /// and the gradient reaches the same position, so the backward pass masks the 4x smaller pooled gradient), the
    /// first two as one <see cref="Tensor.Conv2dMaxPool2d"/> for a 2x2 window. Both give bitwise the values and
    /// gradients of the layers run one by one.
    /// </summary>
    public override FusedStep? FuseWith(IReadOnlyList<Module> following)
    {
        ArgumentNullException.ThrowIfNull(following);
        if (following.Count > 0 && following[0].FoldsIntoConvolution)
            return FoldWith(following[0], following.Count > 1 && following[1] is ReLU ? following[0].FuseWith([following[1]]) : null, following.Count > 1 && following[1] is ReLU);
        if (following.Count == 0 || following[0] is not ReLU) return null;
        if (following.Count > 1 && following[1] is MaxPool2d pool)
        {
            // a 2x2 window of stride 2 without padding pools inside the convolution when nothing is recorded
            bool inKernel = pool is { KernelSize: (2, 2), Stride: (2, 2), Padding: (0, 0) } && Groups == 1 && Stride.H == Stride.W && Padding.H == Padding.W;
            if (inKernel && following.Count > 2 && following[2].FoldsIntoConvolution) return PoolThenNorm(pool, following[2]);
            return new FusedStep(3, inKernel
                    ? "Conv2d+ReLU+MaxPool2d fused (pooled as the convolution stores without gradients; pooled before the ReLU while gradients are recorded)"
                    : "Conv2d+ReLU fused, MaxPool2d (pooled before the ReLU while gradients are recorded)",
                x => GradMode.IsEnabled && (x.RequiresGrad || Weight.Data.RequiresGrad) ? PoolRecorded(x, pool, inKernel).Relu()
                    : inKernel ? Tensor.Conv2dReluMaxPool2d(x, Weight.Data, Bias?.Data, Stride.H, Padding.H)
                    : pool.Call(ForwardRelu(x)));
        }
        return new FusedStep(2, "Conv2d+ReLU fused", ForwardRelu);
    }

    /// <summary>
    /// Conv2d -> ReLU -> MaxPool2d(2) -> batch norm: in evaluation mode without gradients one op, the pooling and the
    /// norm's per-channel affine map (<see cref="Module.ChannelAffine"/>, equal to the norm up to float rounding)
    /// applied as the convolution stores (<see cref="Tensor.Conv2dReluMaxPool2d"/>); otherwise the three-layer step
    /// as without the norm, then the norm (bitwise as unfused).
    /// </summary>
    private FusedStep PoolThenNorm(MaxPool2d pool, Module norm)
    {
        var kept = new DerivedTensors();
        Tensor[] sources = StateOf(norm);
        return new(4, $"Conv2d+ReLU+MaxPool2d+{norm.TypeName} fused (pooled and normalized as the convolution stores in evaluation without gradients; pooled before the ReLU while gradients are recorded)",
            x =>
            {
                if (GradMode.IsEnabled && (x.RequiresGrad || Weight.Data.RequiresGrad)) return norm.Call(PoolRecorded(x, pool, inKernel: true).Relu());
                (Tensor Scale, Tensor Shift)? map = null;
                if (!GradMode.IsEnabled && !norm.Training)
                {
                    // the norm's map, kept until its parameters or running statistics are written
                    var m = kept.Get(sources, () =>
                    {
                        var (sc, sh) = norm.ChannelAffine();
                        return [sc, sh];
                    });
                    map = (m[0], m[1]);
                }
                if (map is not { Scale: { Rank: 1 } scale } || scale.Size(0) != OutChannels)
                    return norm.Call(Tensor.Conv2dReluMaxPool2d(x, Weight.Data, Bias?.Data, Stride.H, Padding.H));
                return Tensor.Conv2dReluMaxPool2d(x, Weight.Data, Bias?.Data, Stride.H, Padding.H, map);
            });
    }

    // Conv2d -> MaxPool2d while gradients are recorded: one op for a 2x2 window (the full-size output stays inside it,
    // and a first layer's weight gradient reads the pooled gradient; bitwise the two layers), else the two layers
    private Tensor PoolRecorded(Tensor x, MaxPool2d pool, bool inKernel) =>
        inKernel ? Tensor.Conv2dMaxPool2d(x, Weight.Data, Bias?.Data, Stride.H, Padding.H) : pool.Call(Forward(x));

    // the tensors a layer's evaluation depends on: its parameters and buffers
    private static Tensor[] StateOf(Module m) => [.. m.NamedParameters().Select(p => p.Parameter.Data), .. m.NamedBuffers().Select(b => b.Buffer)];

    /// <summary>max(Forward(x), 0) in one fused op (the ReLU applied as the output is stored).</summary>
    public Tensor ForwardRelu(Tensor input) => Tensor.Conv2dRelu(input, Weight.Data, Bias?.Data, Stride, Padding, Groups);

    /// <summary>
    /// Conv2d -> batch norm (-> ReLU): in evaluation mode without gradients, one convolution with the batch norm folded
    /// into it, W' = W * scale[oc], b' = b * scale + shift (<see cref="Module.ChannelAffine"/>; equal to the layers
    /// run one by one up to float rounding), with the ReLU fused when one follows; otherwise (training, or gradients
    /// recorded) the convolution, then the norm's step with the ReLU when it offers one (<see cref="Module.FuseWith"/>,
    /// e.g. <see cref="BatchNormBase.ForwardRelu"/>), else the layers one by one, bitwise as unfused. The folded weights are kept between calls and computed
    /// again when the convolution's or the norm's parameters or running statistics are written (their
    /// <see cref="Tensor.Version"/>), so they always follow the current values; making them each call was 6% of
    /// resnet8's batch-1 forward, and transposing them for the 3x3 kernels another 9%.
    /// </summary>
    /// <param name="norm">The batch norm after the convolution.</param>
    /// <param name="normRelu">The norm's own step with the ReLU (e.g. BatchNorm2d+ReLU), run after the convolution
    /// when nothing is folded; null to run the norm, then the ReLU.</param>
    /// <param name="relu">Whether a ReLU follows the norm.</param>
    private FusedStep FoldWith(Module norm, FusedStep? normRelu, bool relu)
    {
        var kept = new DerivedTensors();
        Tensor[] sources = [.. StateOf(this), .. StateOf(norm)];
        return new(relu ? 3 : 2, $"Conv2d+{norm.TypeName}{(relu ? "+ReLU" : "")}: batch norm folded into the convolution{(relu ? ", ReLU fused" : "")} in evaluation without gradients",
            x =>
            {
                Tensor[]? folded = GradMode.IsEnabled || norm.Training ? null : kept.Get(sources, () =>
                {
                    var (scale, shift) = norm.ChannelAffine();
                    if (scale.Rank != 1 || scale.Size(0) != OutChannels) return [];
                    return [Weight.Data.Mul(scale.Reshape([OutChannels, 1, 1, 1])), Bias is null ? shift : Bias.Data.Mul(scale).Add(shift)];
                });
                if (folded is not [var w, var b])
                {
                    // training, gradients recorded, or a norm of another width (its own error, as unfused)
                    var z = Forward(x);
                    if (relu && normRelu is { Count: 2 }) return normRelu.Forward(z);
                    var y = norm.Call(z);
                    return relu ? y.Relu() : y;
                }
                return relu ? Tensor.Conv2dRelu(x, w, b, Stride, Padding, Groups) : Tensor.Conv2d(x, w, b, Stride, Padding, Groups);
            });
    }
}
