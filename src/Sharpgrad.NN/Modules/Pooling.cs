namespace Sharpgrad.NN;

/// <summary>A 2-D pooling layer: window size, stride (defaults to the window) and padding.</summary>
public abstract class Pool2dBase(int kernelSize, int? stride, int padding) : Module
{
    /// <summary>Window size.</summary>
    public int KernelSize { get; } = kernelSize;

    /// <summary>Stride (defaults to the window size).</summary>
    public int Stride { get; } = stride ?? kernelSize;

    /// <summary>Padding on each side.</summary>
    public int Padding { get; } = padding;

    /// <inheritdoc/>
    public override string ExtraRepr => $"kernel_size={KernelSize}, stride={Stride}, padding={Padding}";
}

/// <summary>2-D max pooling (padding reads as -inf). x: (N, C, H, W) -> (N, C, OH, OW).</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0) : Pool2dBase(kernelSize, stride, padding)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.MaxPool2d(KernelSize, Stride, Padding);
    }
}

/// <summary>2-D average pooling (padding counted in the mean). x: (N, C, H, W) -> (N, C, OH, OW).</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0) : Pool2dBase(kernelSize, stride, padding)
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return input.AvgPool2d(KernelSize, Stride, Padding);
    }
}
