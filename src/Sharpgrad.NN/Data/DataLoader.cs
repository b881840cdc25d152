namespace Sharpgrad.NN;

/// <summary>One batch: the inputs (B, ...) as float32, e.g. images (B, C, H, W) or features (B, F), and their labels.</summary>
public sealed record Batch(Tensor Images, int[] Labels);

/// <summary>
/// Batches an <see cref="ILabeledDataset"/> (an <see cref="ImageDataset"/>'s pixels scaled to [0, 1], a
/// <see cref="TensorDataset"/>'s values as they are), then applies the transforms in order. Shuffling and
/// augmentation are seeded by (seed, epoch, position), so the same seed and epoch give the same batches whatever
/// the threads; the next batch is prepared in the background while the current one is used.
/// </summary>
public sealed class DataLoader
{
    /// <summary>Creates the loader.</summary>
    /// <param name="data">The examples.</param>
    /// <param name="batchSize">Examples per batch (positive).</param>
    /// <param name="shuffle">Whether each epoch visits the examples in a new seeded order.</param>
    /// <param name="dropLast">Whether a last, smaller batch is dropped.</param>
    /// <param name="seed">Seed of shuffling and of the transforms' randomness.</param>
    /// <param name="transforms">Per-example transforms; they need (C, H, W) examples.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is not positive.</exception>
    /// <exception cref="ArgumentException">Transforms for examples that are not (C, H, W).</exception>
    public DataLoader(ILabeledDataset data, int batchSize, bool shuffle = false, bool dropLast = false, ulong seed = 0, IReadOnlyList<ITransform>? transforms = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"DataLoader: batch size must be positive, got {batchSize}.");
        Data = data;
        BatchSize = batchSize;
        Shuffle = shuffle;
        DropLast = dropLast;
        Seed = seed;
        Transforms = transforms ?? [];
        _shape = [.. data.ExampleShape];
        if (Transforms.Count > 0 && _shape.Length != 3)
            throw new ArgumentException($"DataLoader: transforms work on (C, H, W) images; the examples of {data.Source} have shape [{string.Join(",", _shape)}].", nameof(transforms));
    }

    private readonly int[] _shape;

    /// <summary>The dataset.</summary>
    public ILabeledDataset Data { get; }

    /// <summary>Images per batch.</summary>
    public int BatchSize { get; }

    /// <summary>Whether each epoch visits the images in a new random order.</summary>
    public bool Shuffle { get; }

    /// <summary>Whether a last, smaller batch is dropped.</summary>
    public bool DropLast { get; }

    /// <summary>Seed of shuffling and augmentation.</summary>
    public ulong Seed { get; }

    /// <summary>Per-image transforms, applied in order.</summary>
    public IReadOnlyList<ITransform> Transforms { get; }

    /// <summary>Batches per epoch.</summary>
    public int BatchCount => DropLast ? Data.Count / BatchSize : (Data.Count + BatchSize - 1) / BatchSize;

    /// <summary>The visiting order of <paramref name="epoch"/>.</summary>
    public int[] Order(int epoch)
    {
        var order = Enumerable.Range(0, Data.Count).ToArray();
        if (Shuffle) new Generator(Mix(Seed, (ulong)epoch, 0x5348554646UL)).Shuffle<int>(order);
        return order;
    }

    private static ulong Mix(ulong a, ulong b, ulong c) => a * 0x9E3779B97F4A7C15UL ^ (b + 0x632BE59BD9B4E019UL) * 0xC2B2AE3D27D4EB4FUL ^ c;

    /// <summary>Builds batch <paramref name="index"/> of <paramref name="epoch"/>.</summary>
    public Batch GetBatch(int epoch, int index, int[] order)
    {
        ArgumentNullException.ThrowIfNull(order);
        int start = index * BatchSize, n = Math.Min(BatchSize, Data.Count - start);
        int size = Data.ExampleSize;
        var x = new float[n * size];
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            int src = order[start + i];
            labels[i] = Data.LabelAt(src);
            var example = x.AsSpan(i * size, size);
            Data.CopyExample(src, example);
            if (Transforms.Count > 0)
            {
                var g = new Generator(Mix(Seed, (ulong)epoch, (ulong)(start + i) + 1));
                foreach (var t in Transforms) t.Apply(example, _shape[0], _shape[1], _shape[2], g);
            }
        }
        return new Batch(Tensor.Wrap(x, [n, .. _shape]), labels);
    }

    /// <summary>The batches of <paramref name="epoch"/>, each prepared while the previous one is in use.</summary>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        var order = Order(epoch);
        int count = BatchCount;
        if (count == 0) yield break;
        var next = Task.Run(() => GetBatch(epoch, 0, order));
        for (int b = 0; b < count; b++)
        {
            var current = next.GetAwaiter().GetResult();
            int nb = b + 1;
            next = nb < count ? Task.Run(() => GetBatch(epoch, nb, order)) : Task.FromResult<Batch>(null!);
            yield return current;
        }
    }
}
