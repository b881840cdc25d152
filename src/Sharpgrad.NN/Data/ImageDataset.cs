namespace Sharpgrad.NN;

/// <summary>
/// Images in memory as bytes (N, C, H, W) with integer labels. Pixels become floats in [0, 1] when batched.
/// </summary>
public sealed class ImageDataset : ILabeledDataset
{
    /// <summary>Creates a dataset; <paramref name="pixels"/> holds N*C*H*W bytes.</summary>
    public ImageDataset(byte[] pixels, int[] labels, int channels, int height, int width, IReadOnlyList<string> classNames, string source)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if ((long)labels.Length * channels * height * width != pixels.Length)
            throw new DataException($"{source}: {pixels.Length} pixel bytes do not make {labels.Length} images of {channels}x{height}x{width}.");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classNames.Count)
                throw new DataException($"{source}: label {labels[i]} of example {i} is out of range for {classNames.Count} classes (expected 0..{classNames.Count - 1}).");
        Pixels = pixels;
        Labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassNames = classNames;
        Source = source;
    }

    /// <summary>N*C*H*W bytes.</summary>
    public byte[] Pixels { get; }

    /// <summary>Class index per image.</summary>
    public int[] Labels { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>C.</summary>
    public int Channels { get; }

    /// <summary>H.</summary>
    public int Height { get; }

    /// <summary>W.</summary>
    public int Width { get; }

    /// <summary>Bytes per image.</summary>
    public int ImageSize => Channels * Height * Width;

    /// <summary>(C, H, W).</summary>
    public IReadOnlyList<int> ExampleShape => [Channels, Height, Width];

    /// <summary>Values per image (C*H*W, as <see cref="ImageSize"/>).</summary>
    public int ExampleSize => ImageSize;

    /// <inheritdoc/>
    public int LabelAt(int index) => Labels[index];

    /// <summary>Writes image <paramref name="index"/> as floats in [0, 1] (byte / 255, as torchvision's ToTensor).</summary>
    public void CopyExample(int index, Span<float> destination)
    {
        int size = ImageSize;
        if (destination.Length != size) throw new ArgumentException($"ImageDataset.CopyExample: destination holds {destination.Length} values, an image has {size}.", nameof(destination));
        var px = Pixels.AsSpan(index * size, size);
        for (int k = 0; k < size; k++) destination[k] = px[k] / 255f;
    }

    /// <summary>Class names, by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Where the data came from, for messages.</summary>
    public string Source { get; }

    /// <summary>The images at <paramref name="indices"/>, in that order.</summary>
    public ImageDataset Subset(IReadOnlyList<int> indices, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var px = new byte[indices.Count * ImageSize];
        var lb = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Array.Copy(Pixels, (long)indices[i] * ImageSize, px, (long)i * ImageSize, ImageSize);
            lb[i] = Labels[indices[i]];
        }
        return new ImageDataset(px, lb, Channels, Height, Width, ClassNames, source ?? Source);
    }

    /// <summary>The first <paramref name="n"/> images (all when n is larger).</summary>
    public ImageDataset Take(int n) => n >= Count ? this : Subset(Enumerable.Range(0, Math.Max(0, n)).ToArray(), $"{Source} (first {n})");

    /// <summary>A seeded random split into training and validation parts.</summary>
    public (ImageDataset Train, ImageDataset Validation) Split(double validationFraction, ulong seed)
    {
        var (train, validation) = SplitIndices(Count, validationFraction, seed);
        return (Subset(train, Source + " (train split)"), Subset(validation, Source + " (validation split)"));
    }

    /// <summary>
    /// A seeded shuffle of 0..count-1 cut into training and validation indices (round(count * fraction) of them);
    /// every dataset's Split uses it, so the same seed splits the same way.
    /// </summary>
    internal static (int[] Train, int[] Validation) SplitIndices(int count, double validationFraction, ulong seed)
    {
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), $"Split: validation fraction must be in (0, 1), got {validationFraction}.");
        var order = Enumerable.Range(0, count).ToArray();
        new Generator(seed).Shuffle<int>(order);
        int nVal = (int)Math.Round(count * validationFraction);
        return (order[nVal..], order[..nVal]);
    }

    /// <summary>Per-channel mean and standard deviation of the pixels scaled to [0, 1].</summary>
    public (double[] Mean, double[] Std) ChannelStatistics()
    {
        var sum = new double[Channels];
        var sq = new double[Channels];
        int plane = Height * Width;
        for (int i = 0; i < Count; i++)
            for (int c = 0; c < Channels; c++)
            {
                long s = 0, s2 = 0;
                int o = i * ImageSize + c * plane;
                for (int k = 0; k < plane; k++)
                {
                    int v = Pixels[o + k];
                    s += v;
                    s2 += v * v;
                }
                sum[c] += s;
                sq[c] += s2;
            }
        double n = (double)Count * plane;
        var mean = sum.Select(s => s / n / 255).ToArray();
        var std = sq.Select((s, c) => Math.Sqrt(Math.Max(s / n / (255.0 * 255) - mean[c] * mean[c], 1e-12))).ToArray();
        return (mean, std);
    }
}

/// <summary>A training set and a test set.</summary>
public sealed record DatasetPair(string Name, ImageDataset Train, ImageDataset Test);
