namespace Sharpgrad.NN;

/// <summary>2-D max pooling. x: (N, C, H, W) -> (N, C, OH, OW).</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;

    /// <summary>Stride (defaults to the window size).</summary>
    public int Stride { get; } = stride ?? kernelSize;

    /// <summary>Padding (reads as -inf).</summary>
    public int Padding { get; } = padding;

    /// <inheritdoc/>
    public override string ExtraRepr => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.MaxPool2d(KernelSize, Stride, Padding);
    }
}

/// <summary>2-D average pooling (padding counted in the mean). x: (N, C, H, W) -> (N, C, OH, OW).</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0) : Module
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;

    /// <summary>Stride (defaults to the window size).</summary>
    public int Stride { get; } = stride ?? kernelSize;

    /// <summary>Zero padding.</summary>
    public int Padding { get; } = padding;

    /// <inheritdoc/>
    public override string ExtraRepr => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.AvgPool2d(KernelSize, Stride, Padding);
    }
}
