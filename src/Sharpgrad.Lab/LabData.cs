using Sharpgrad.NN;

namespace Sharpgrad.Lab;

/// <summary>Data helpers shared by the experiments.</summary>
internal static class LabData
{
    /// <summary>
    /// The first <paramref name="perClass"/> images of class <paramref name="negative"/> (label 0) and of class
    /// <paramref name="positive"/> (label 1), in dataset order: X (m, C*H*W) float32 in [0, 1], Y (m, 1) 0/1.
    /// </summary>
    /// <exception cref="ArgumentException">A class with fewer than <paramref name="perClass"/> images.</exception>
    public static (Tensor X, Tensor Y, int[] Labels) TwoClasses(ImageDataset data, int negative, int positive, int perClass)
    {
        var indices = new List<int>();
        var labels = new List<int>();
        int neg = 0, pos = 0;
        for (int i = 0; i < data.Count && (neg < perClass || pos < perClass); i++)
        {
            int l = data.Labels[i];
            if (l == negative && neg < perClass) { indices.Add(i); labels.Add(0); neg++; }
            else if (l == positive && pos < perClass) { indices.Add(i); labels.Add(1); pos++; }
        }
        if (neg < perClass || pos < perClass)
            throw new ArgumentException($"lab: {data.Source} has {neg} images of class {negative} and {pos} of class {positive}; {perClass} of each are needed.");
        int size = data.ExampleSize;
        var x = new float[indices.Count * size];
        for (int k = 0; k < indices.Count; k++) data.CopyExample(indices[k], x.AsSpan(k * size, size));
        var y = labels.Select(l => (float)l).ToArray();
        return (Tensor.FromArray(x, indices.Count, size), Tensor.FromArray(y, indices.Count, 1), labels.ToArray());
    }

    /// <summary>Fraction of predictions (y_hat &gt;= 0.5) that equal the labels, and the 2x2 confusion matrix [true, predicted].</summary>
    public static (double Accuracy, int[,] Confusion, int PredictedPositive) Classify(Tensor yHat, int[] labels)
    {
        var p = yHat.ToArray();
        var confusion = new int[2, 2];
        int correct = 0, positive = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            int predicted = p[i] >= 0.5f ? 1 : 0;
            confusion[labels[i], predicted]++;
            if (predicted == labels[i]) correct++;
            positive += predicted;
        }
        return ((double)correct / labels.Length, confusion, positive);
    }

    /// <summary>A number for a check's text: 3 significant digits, invariant culture.</summary>
    public static string G(double v) => v.ToString("G3", System.Globalization.CultureInfo.InvariantCulture);
}
