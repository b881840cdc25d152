namespace Sharpgrad.NN;

/// <summary>
/// A 2-D pooling layer: window size, stride (defaults to the window) and padding, each an int or a (height, width)
/// pair as in PyTorch.
/// </summary>
public abstract class Pool2dBase : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <summary>A square window, stride (default: the window) and padding.</summary>
    protected Pool2dBase(int kernelSize, int? stride, int padding)
        : this((kernelSize, kernelSize), stride is int st ? (st, st) : null, (padding, padding))
    {
    }

    /// <summary>A (height, width) window, stride (default: the window) and padding.</summary>
    protected Pool2dBase((int H, int W) kernelSize, (int H, int W)? stride, (int H, int W) padding)
    {
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
    }

    /// <summary>Window height and width.</summary>
    public (int H, int W) KernelSize { get; }

    /// <summary>Stride along the height and the width (defaults to the window size).</summary>
    public (int H, int W) Stride { get; }

    /// <summary>Padding on each side, along the height and the width.</summary>
    public (int H, int W) Padding { get; }

    /// <summary>The window's side when it is square, else null (the summary's kernel column).</summary>
    protected int? SquareKernel => KernelSize.H == KernelSize.W ? KernelSize.H : null;

    /// <inheritdoc/>
    public override string ExtraRepr => $"kernel_size={Show(KernelSize)}, stride={Show(Stride)}, padding={Show(Padding)}";

    private static string Show((int H, int W) v) => v.H == v.W ? $"{v.H}" : $"({v.H}, {v.W})";

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => new()
    {
        ["kernel_size"] = ModelSpec.IntOrPair(KernelSize),
        ["stride"] = ModelSpec.IntOrPair(Stride),
        ["padding"] = ModelSpec.IntOrPair(Padding),
    };

    /// <summary>The window, stride and padding a model file gives (ints or [height, width] pairs).</summary>
    internal static ((int, int) Kernel, (int, int)? Stride, (int, int) Padding) ReadWindow(SpecReader r)
    {
        var k = r.Pair("kernel_size");
        var p = r.Pair("padding", (0, 0));
        return ((k.A, k.B), r.OptionalPair("stride") is { } s ? (s.A, s.B) : null, (p.A, p.B));
    }
}

/// <summary>2-D max pooling (padding reads as -inf). x: (N, C, H, W) -> (N, C, OH, OW).</summary>
public sealed class MaxPool2d : Pool2dBase
{
    /// <summary>A square window, stride (default: the window) and padding.</summary>
    public MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : base(kernelSize, stride, padding)
    {
    }

    /// <summary>A (height, width) window, stride (default: the window) and padding, as PyTorch's pairs.</summary>
    public MaxPool2d((int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W) padding = default) : base(kernelSize, stride, padding)
    {
    }

    /// <inheritdoc/>
    public override LayerSummary Summarize(int[] inputShape, int[] outputShape) => new("Pool", Kernel: SquareKernel);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.MaxPool2d(KernelSize, Stride, Padding);
    }

    /// <summary>ONNX MaxPool (padding ignored in the maximum, as PyTorch's -inf padding).</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("MaxPool", [input], OnnxWindow.Attributes(KernelSize, Stride, Padding));
    }
}

/// <summary>2-D average pooling (padding counted in the mean). x: (N, C, H, W) -> (N, C, OH, OW).</summary>
public sealed class AvgPool2d : Pool2dBase
{
    /// <summary>A square window, stride (default: the window) and padding.</summary>
    public AvgPool2d(int kernelSize, int? stride = null, int padding = 0) : base(kernelSize, stride, padding)
    {
    }

    /// <summary>A (height, width) window, stride (default: the window) and padding, as PyTorch's pairs.</summary>
    public AvgPool2d((int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W) padding = default) : base(kernelSize, stride, padding)
    {
    }

    /// <inheritdoc/>
    public override LayerSummary Summarize(int[] inputShape, int[] outputShape) => new("AvgPool", Kernel: SquareKernel);

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.AvgPool2d(KernelSize, Stride, Padding);
    }

    /// <summary>ONNX AveragePool with count_include_pad = 1 (padding counted in the mean, as PyTorch's default).</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return graph.AddNode("AveragePool", [input], [.. OnnxWindow.Attributes(KernelSize, Stride, Padding), OnnxAttribute.Int("count_include_pad", 1)]);
    }
}

/// <summary>
/// Adaptive average pooling to a fixed output size, as PyTorch: output cell (i, j) averages input rows
/// floor(i H / OH) .. ceil((i + 1) H / OH) - 1 and the same for columns; output size 1 is global average pooling.
/// x: (N, C, H, W) -> (N, C, OH, OW).
/// </summary>
public sealed class AdaptiveAvgPool2d : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => true;

    /// <summary>Creates the layer for output size (<paramref name="outputHeight"/>, <paramref name="outputWidth"/>).</summary>
    /// <exception cref="ArgumentException">A non-positive output size.</exception>
    public AdaptiveAvgPool2d(int outputHeight = 1, int outputWidth = 1)
    {
        if (outputHeight < 1 || outputWidth < 1)
            throw new ArgumentException($"AdaptiveAvgPool2d: output size must be positive, got ({outputHeight}, {outputWidth}).");
        OutputHeight = outputHeight;
        OutputWidth = outputWidth;
    }

    /// <summary>Output height.</summary>
    public int OutputHeight { get; }

    /// <summary>Output width.</summary>
    public int OutputWidth { get; }

    /// <inheritdoc/>
    public override string ExtraRepr => $"output_size={(OutputHeight == OutputWidth ? OutputHeight.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"({OutputHeight}, {OutputWidth})")}";

    /// <inheritdoc/>
    public override System.Text.Json.Nodes.JsonObject DescribeArguments() => new()
    {
        ["output_size"] = OutputHeight == OutputWidth ? OutputHeight : new System.Text.Json.Nodes.JsonArray(OutputHeight, OutputWidth),
    };

    internal static AdaptiveAvgPool2d FromSpec(SpecReader r)
    {
        var (h, w) = r.Pair("output_size");
        return new AdaptiveAvgPool2d(h, w);
    }

    // x: (N,C,H,W) -> (N,C,OH,OW)
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return OutputHeight == 1 && OutputWidth == 1 && input.Rank == 4 ? input.Mean([2, 3], keepDim: true) : input.AdaptiveAvgPool2d(OutputHeight, OutputWidth);
    }

    /// <summary>
    /// ONNX GlobalAveragePool for output size 1x1; AveragePool with window and stride H/OH x W/OW where the output
    /// size divides the input's (then PyTorch's windows are exactly those). Other sizes have windows of unequal
    /// size, which no ONNX operator computes: NotSupportedException.
    /// </summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        if (OutputHeight == 1 && OutputWidth == 1) return graph.AddNode("GlobalAveragePool", [input]);
        var shape = graph.ShapeOf(input);
        if (shape is not { Count: 4 })
            throw UnsupportedOnnx(graph, $"to {OutputHeight}x{OutputWidth} needs its input's (N, C, H, W) shape, which the export does not know here (the input comes from a node inside a layer)");
        int h = shape[2], w = shape[3];
        if (h % OutputHeight != 0 || w % OutputWidth != 0)
            throw UnsupportedOnnx(graph, $"from {h}x{w} to {OutputHeight}x{OutputWidth} averages windows of unequal size, which no ONNX operator computes (export works when the output size divides the input size)");
        int kh = h / OutputHeight, kw = w / OutputWidth;
        return graph.AddNode("AveragePool", [input], OnnxAttribute.Ints("kernel_shape", kh, kw), OnnxAttribute.Ints("strides", kh, kw));
    }
}
