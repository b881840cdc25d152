namespace Sharpgrad.NN;

/// <summary>
/// Examples of one shape with an integer class label each, as <see cref="DataLoader"/> batches them:
/// <see cref="ImageDataset"/> (bytes scaled to [0, 1]) and <see cref="TensorDataset"/> (float values as given).
/// </summary>
public interface ILabeledDataset
{
    /// <summary>Number of examples.</summary>
    int Count { get; }

    /// <summary>The shape of one example, without the batch dimension: (C, H, W) for images, (F) for feature vectors.</summary>
    IReadOnlyList<int> ExampleShape { get; }

    /// <summary>Values per example (the product of <see cref="ExampleShape"/>).</summary>
    int ExampleSize { get; }

    /// <summary>Class names, by label; labels are 0 .. ClassNames.Count - 1.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Where the data came from, for messages.</summary>
    string Source { get; }

    /// <summary>The class label of example <paramref name="index"/>.</summary>
    int LabelAt(int index);

    /// <summary>
    /// Writes example <paramref name="index"/> as float32 values, row-major in <see cref="ExampleShape"/>, into
    /// <paramref name="destination"/> (exactly <see cref="ExampleSize"/> long), before any transform.
    /// </summary>
    void CopyExample(int index, Span<float> destination);
}
