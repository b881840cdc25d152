using System.Globalization;

namespace Sharpgrad.NN;

/// <summary>
/// Examples held in memory as float32 values, (N, C, H, W) images or (N, F) feature vectors (any shape with N first),
/// with an integer class label each. <see cref="DataLoader"/> batches the values as they are (no scaling).
/// </summary>
public sealed class TensorDataset : ILabeledDataset
{
    private readonly float[] _values;
    private readonly int[] _labels;
    private readonly int[] _shape;

    /// <summary>
    /// Creates a dataset from <paramref name="inputs"/> (N, ...) and one label per example. The values are copied (as
    /// float32), so later writes to <paramref name="inputs"/> are not seen.
    /// </summary>
    /// <param name="inputs">Examples along the first axis: (N, C, H, W), (N, F), ...; float32 or float64.</param>
    /// <param name="labels">N class indices, each in 0 .. <paramref name="classes"/> - 1.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="classNames">Names by label (default "0", "1", ...); when given, its count must equal <paramref name="classes"/>.</param>
    /// <param name="source">Where the data came from, for messages.</param>
    /// <exception cref="ArgumentException">Inputs of rank 0, a label count that is not N, a label out of range, or a class-name count that is not <paramref name="classes"/> (one line).</exception>
    public TensorDataset(Tensor inputs, int[] labels, int classes, IReadOnlyList<string>? classNames = null, string source = "TensorDataset")
        : this(Checked(inputs).ToArray(), [.. inputs.Shape], labels, classes, classNames, source)
    {
    }

    /// <summary>
    /// Creates a dataset over <paramref name="values"/> (row-major, shape <paramref name="shape"/> = (N, ...)),
    /// without copying them.
    /// </summary>
    /// <exception cref="ArgumentException">A shape whose product is not the value count, a label count that is not N, a label out of range (one line).</exception>
    public TensorDataset(float[] values, int[] shape, int[] labels, int classes, IReadOnlyList<string>? classNames = null, string source = "TensorDataset")
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(source);
        if (shape.Length < 2 || shape[0] < 0 || shape[1..].Any(d => d < 1))
            throw new ArgumentException($"{source}: inputs must have shape (N, ...) with an example axis and positive example sizes, got [{string.Join(",", shape)}].", nameof(shape));
        long size = shape.Aggregate(1L, (a, d) => a * d);
        if (size != values.Length)
            throw new ArgumentException($"{source}: shape [{string.Join(",", shape)}] needs {size} values, got {values.Length}.", nameof(values));
        if (labels.Length != shape[0])
            throw new ArgumentException($"{source}: {labels.Length} labels for {shape[0]} examples; expected one label per example.", nameof(labels));
        if (classes < 1) throw new ArgumentException($"{source}: expected a positive number of classes, got {classes}.", nameof(classes));
        if (classNames is not null && classNames.Count != classes)
            throw new ArgumentException($"{source}: {classNames.Count} class names for {classes} classes.", nameof(classNames));
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentException($"{source}: label {labels[i]} of example {i} is out of range for {classes} classes (expected 0..{classes - 1}).", nameof(labels));
        _values = values;
        _labels = labels;
        _shape = shape[1..];
        ExampleSize = checked((int)_shape.Aggregate(1L, (a, d) => a * d));
        ClassNames = classNames ?? Enumerable.Range(0, classes).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();
        Source = source;
    }

    private static Tensor Checked(Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        return inputs.DType == DType.Float32 ? inputs : inputs.To(DType.Float32);
    }

    /// <inheritdoc/>
    public int Count => _labels.Length;

    /// <inheritdoc/>
    public IReadOnlyList<int> ExampleShape => _shape;

    /// <inheritdoc/>
    public int ExampleSize { get; }

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc/>
    public string Source { get; }

    /// <summary>The labels, by example.</summary>
    public IReadOnlyList<int> Labels => _labels;

    /// <inheritdoc/>
    public int LabelAt(int index) => _labels[index];

    /// <inheritdoc/>
    public void CopyExample(int index, Span<float> destination)
    {
        if (destination.Length != ExampleSize) throw new ArgumentException($"{Source}: destination holds {destination.Length} values, an example has {ExampleSize}.", nameof(destination));
        _values.AsSpan(checked(index * ExampleSize), ExampleSize).CopyTo(destination);
    }

    /// <summary>The examples at <paramref name="indices"/>, in that order (copied).</summary>
    public TensorDataset Subset(IReadOnlyList<int> indices, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var v = new float[(long)indices.Count * ExampleSize];
        var l = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            CopyExample(indices[i], v.AsSpan(i * ExampleSize, ExampleSize));
            l[i] = _labels[indices[i]];
        }
        return new TensorDataset(v, [indices.Count, .. _shape], l, ClassNames.Count, ClassNames, source ?? Source);
    }

    /// <summary>A seeded random split into training and validation parts (the validation part holds round(N * fraction) examples).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="validationFraction"/> is not in (0, 1).</exception>
    public (TensorDataset Train, TensorDataset Validation) Split(double validationFraction, ulong seed)
    {
        var (train, validation) = ImageDataset.SplitIndices(Count, validationFraction, seed);
        return (Subset(train, Source + " (train split)"), Subset(validation, Source + " (validation split)"));
    }
}
