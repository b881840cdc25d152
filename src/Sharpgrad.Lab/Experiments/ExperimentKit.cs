using System.Globalization;
using Sharpgrad.NN;

namespace Sharpgrad.Lab;

/// <summary>What the training experiments (Q1-Q4, Q9) share: seeded subsets, loaders, evaluation, plot paths, number formats.</summary>
internal static class ExperimentKit
{
    /// <summary><paramref name="count"/> images of <paramref name="data"/> drawn at random (seeded), skipping the first <paramref name="skip"/> of the shuffle.</summary>
    public static ImageDataset Sample(ImageDataset data, int count, ulong seed, int skip = 0)
    {
        var order = Enumerable.Range(0, data.Count).ToArray();
        new Generator(seed).Shuffle<int>(order);
        if (skip + count > order.Length)
            throw new ArgumentException($"lab: asked for {count} images after {skip} of {data.Source}, which has {data.Count}.");
        return data.Subset(order[skip..(skip + count)], $"{data.Source} ({count} sampled)");
    }

    /// <summary>A loader that visits <paramref name="data"/> in order (for evaluation).</summary>
    public static DataLoader InOrder(ILabeledDataset data, int batch = 500) => new(data, batch);

    /// <summary>Accuracy (0..1) and mean cross-entropy of <paramref name="model"/> on <paramref name="data"/>, in evaluation mode.</summary>
    public static Evaluation Evaluate(Module model, ILabeledDataset data) => TrainingLoop.Evaluate(model, InOrder(data), data.ClassNames.Count);

    /// <summary>A number for a table or a sentence: up to four significant digits, invariant culture.</summary>
    public static string F(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>A share 0..1 as a percentage with one decimal.</summary>
    public static string Pct(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture) + "%";

    /// <summary>An integer with thousands separators.</summary>
    public static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
}
