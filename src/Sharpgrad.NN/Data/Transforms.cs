namespace Sharpgrad.NN;

/// <summary>A per-image transform on float pixels (C, H, W), drawing any randomness from the generator it is given.</summary>
public interface ITransform
{
    /// <summary>Transforms <paramref name="image"/> in place.</summary>
    void Apply(Span<float> image, int channels, int height, int width, Generator random);
}

/// <summary>(x - mean[c]) / std[c] per channel.</summary>
public sealed class Normalize : ITransform
{
    /// <summary>Creates the transform.</summary>
    public Normalize(double[] mean, double[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length != std.Length || mean.Length == 0)
            throw new ArgumentException($"Normalize: expected one mean and one std per channel, got {mean.Length} and {std.Length}.");
        if (std.Any(s => !(s > 0))) throw new ArgumentException("Normalize: every std must be positive.");
        Mean = mean;
        Std = std;
    }

    /// <summary>Per-channel mean.</summary>
    public double[] Mean { get; }

    /// <summary>Per-channel standard deviation.</summary>
    public double[] Std { get; }

    /// <summary>From the statistics of <paramref name="data"/>.</summary>
    public static Normalize FromData(ImageDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var (m, s) = data.ChannelStatistics();
        return new Normalize(m, s);
    }

    /// <inheritdoc/>
    public void Apply(Span<float> image, int channels, int height, int width, Generator random)
    {
        if (channels != Mean.Length) throw new ArgumentException($"Normalize: configured for {Mean.Length} channels, image has {channels}.");
        int plane = height * width;
        for (int c = 0; c < channels; c++)
        {
            var p = image.Slice(c * plane, plane);
            System.Numerics.Tensors.TensorPrimitives.Subtract(p, (float)Mean[c], p);
            System.Numerics.Tensors.TensorPrimitives.Multiply(p, (float)(1 / Std[c]), p);
        }
    }
}

/// <summary>Pads by <see cref="Padding"/> zeros on each side, then crops a random window of the original size.</summary>
public sealed class RandomCrop(int padding) : ITransform
{
    /// <summary>Zero padding on each side.</summary>
    public int Padding { get; } = padding >= 0 ? padding : throw new ArgumentOutOfRangeException(nameof(padding), $"RandomCrop: padding must be non-negative, got {padding}.");

    /// <inheritdoc/>
    public void Apply(Span<float> image, int channels, int height, int width, Generator random)
    {
        ArgumentNullException.ThrowIfNull(random);
        int dy = random.NextInt(2 * Padding + 1) - Padding, dx = random.NextInt(2 * Padding + 1) - Padding;
        if (dy == 0 && dx == 0) return;
        int plane = height * width;
        Span<float> tmp = new float[plane];
        for (int c = 0; c < channels; c++)
        {
            var p = image.Slice(c * plane, plane);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int sy = y + dy, sx = x + dx;
                    tmp[y * width + x] = (uint)sy < (uint)height && (uint)sx < (uint)width ? p[sy * width + sx] : 0f;
                }
            tmp.CopyTo(p);
        }
    }
}

/// <summary>Mirrors the image left-right with probability <see cref="P"/>.</summary>
public sealed class RandomHorizontalFlip(double p = 0.5) : ITransform
{
    /// <summary>Flip probability.</summary>
    public double P { get; } = p;

    /// <inheritdoc/>
    public void Apply(Span<float> image, int channels, int height, int width, Generator random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (random.NextDouble() >= P) return;
        for (int r = 0; r < channels * height; r++) image.Slice(r * width, width).Reverse();
    }
}
