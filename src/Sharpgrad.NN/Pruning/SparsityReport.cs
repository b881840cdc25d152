using System.Globalization;
using System.Text;

namespace Sharpgrad.NN;

/// <summary>One layer's line of a <see cref="SparsityReport"/>.</summary>
public sealed record LayerSparsity(string Name, int Parameters, int NonZeros)
{
    /// <summary>Fraction of exact zeros.</summary>
    public double Sparsity => Parameters == 0 ? 0 : 1 - (double)NonZeros / Parameters;
}

/// <summary>
/// Zeros per prunable layer and overall, with the storage size of the weights dense (4 bytes each) and sparse
/// (CSR-like: a 4-byte value and a 4-byte index per non-zero; a layer is stored sparse only where that is smaller).
/// </summary>
public sealed class SparsityReport
{
    private SparsityReport(IReadOnlyList<LayerSparsity> layers, long allParameters, long allNonZeros)
    {
        Layers = layers;
        AllParameters = allParameters;
        AllNonZeros = allNonZeros;
    }

    /// <summary>Prunable layers (Conv2d and Linear weights).</summary>
    public IReadOnlyList<LayerSparsity> Layers { get; }

    /// <summary>Prunable weights in all.</summary>
    public long Parameters => Layers.Sum(l => (long)l.Parameters);

    /// <summary>Non-zero prunable weights.</summary>
    public long NonZeros => Layers.Sum(l => (long)l.NonZeros);

    /// <summary>Overall sparsity of the prunable weights.</summary>
    public double Sparsity => Parameters == 0 ? 0 : 1 - (double)NonZeros / Parameters;

    /// <summary>Every parameter (biases and BatchNorm included).</summary>
    public long AllParameters { get; }

    /// <summary>Non-zeros among every parameter.</summary>
    public long AllNonZeros { get; }

    /// <summary>Bytes of all parameters stored dense in float32.</summary>
    public long DenseBytes => AllParameters * 4;

    /// <summary>Bytes with each prunable layer stored sparse where smaller (value + index per non-zero), the rest dense.</summary>
    public long SparseBytes => (AllParameters - Parameters) * 4 + Layers.Sum(l => Math.Min(4L * l.Parameters, 8L * l.NonZeros));

    /// <summary>Measures <paramref name="model"/>.</summary>
    public static SparsityReport Of(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = Pruner.PrunableWeights(model)
            .Select(p => new LayerSparsity(p.Name, p.Parameter.NumElements, p.Parameter.Data.ToArray().Count(v => v != 0))).ToList();
        long all = model.ParameterCount();
        long nz = model.Parameters().Sum(p => (long)p.Data.ToArray().Count(v => v != 0));
        return new SparsityReport(layers, all, nz);
    }

    /// <summary>The report as a text table.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        // the name column fits the longest name (a ResNet's "9.shortcut.0.weight"), at least 12 wide
        int w = Math.Max(12, Layers.Count == 0 ? 0 : Layers.Max(l => l.Name.Length));
        sb.AppendLine(inv, $"{"layer".PadRight(w)} {"parameters",10} {"non-zeros",10} {"sparsity",9}");
        foreach (var l in Layers) sb.AppendLine(inv, $"{l.Name.PadRight(w)} {l.Parameters,10:N0} {l.NonZeros,10:N0} {l.Sparsity * 100,8:F1}%");
        sb.AppendLine(inv, $"{"prunable".PadRight(w)} {Parameters,10:N0} {NonZeros,10:N0} {Sparsity * 100,8:F1}%");
        sb.AppendLine(inv, $"all parameters: {AllParameters:N0}, non-zero {AllNonZeros:N0}; stored dense {DenseBytes:N0} bytes, sparse {SparseBytes:N0} bytes ({100.0 * SparseBytes / DenseBytes:F0}%)");
        return sb.ToString();
    }
}
