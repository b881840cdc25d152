using System.Globalization;
using System.Text;

namespace Sharpgrad.NN;

/// <summary>How accuracy falls as one layer alone is pruned, for every prunable layer.</summary>
/// <param name="Sparsities">The levels tried (0, 0.1, ..., 0.9, 0.95, 0.99 by default).</param>
/// <param name="Layers">Per layer: name, weight count and the accuracy at each level.</param>
/// <param name="BaselineAccuracy">Accuracy with nothing pruned.</param>
public sealed record SensitivityResult(double[] Sparsities, IReadOnlyList<(string Layer, int Parameters, double[] Accuracy)> Layers, double BaselineAccuracy)
{
    /// <summary>The table as text: one row per layer, one column per level.</summary>
    public string ToText()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        // the name column fits the longest name (a ResNet's "5.shortcut.0.weight"), at least 10 wide
        int w = Math.Max(10, Layers.Count == 0 ? 0 : Layers.Max(l => l.Layer.Length));
        sb.Append(inv, $"{"layer".PadRight(w)} {"weights",8}");
        foreach (var s in Sparsities) sb.Append(inv, $" {s * 100,6:0.#}%");
        sb.AppendLine();
        foreach (var (layer, n, acc) in Layers)
        {
            sb.Append(inv, $"{layer.PadRight(w)} {n,8:N0}");
            foreach (var a in acc) sb.Append(inv, $" {a * 100,6:F2} ");
            sb.AppendLine();
        }
        sb.AppendLine(inv, $"(validation accuracy in %, each layer pruned alone by magnitude; unpruned {BaselineAccuracy * 100:F2}%)");
        return sb.ToString();
    }

    /// <summary>
    /// Per-layer rates for an overall <paramref name="targetSparsity"/> of the prunable weights: every layer is pruned
    /// as far as it can go while losing at most the same accuracy (interpolating its curve), and that allowed loss is
    /// found by bisection, so the most sensitive layers are pruned least.
    /// </summary>
    public Dictionary<string, double> ChooseRates(double targetSparsity, double maxRate = 0.99)
    {
        if (!(targetSparsity >= 0 && targetSparsity <= maxRate))
            throw new ArgumentOutOfRangeException(nameof(targetSparsity), $"ChooseRates: target sparsity must be in [0, {maxRate}], got {targetSparsity}.");
        long total = Layers.Sum(l => (long)l.Parameters);
        Dictionary<string, double> RatesFor(double drop) => Layers.ToDictionary(l => l.Layer, l => Math.Min(maxRate, RateWithin(l.Accuracy, drop)));
        double Overall(Dictionary<string, double> r) => Layers.Sum(l => r[l.Layer] * l.Parameters) / total;
        double lo = -1e-9, hi = 1;
        if (Overall(RatesFor(hi)) < targetSparsity) return RatesFor(hi).ToDictionary(kv => kv.Key, _ => targetSparsity);
        for (int i = 0; i < 60; i++)
        {
            double mid = (lo + hi) / 2;
            if (Overall(RatesFor(mid)) >= targetSparsity) hi = mid;
            else lo = mid;
        }
        return RatesFor(hi);
    }

    // the largest sparsity whose accuracy drop stays within `drop`, linear between the measured levels
    private double RateWithin(double[] accuracy, double drop)
    {
        double floor = BaselineAccuracy - drop, best = 0;
        for (int i = 1; i < Sparsities.Length; i++)
        {
            if (accuracy[i] >= floor)
            {
                best = Sparsities[i];
                continue;
            }
            if (accuracy[i - 1] >= floor)
            {
                double t = (accuracy[i - 1] - floor) / (accuracy[i - 1] - accuracy[i]);
                best = Sparsities[i - 1] + t * (Sparsities[i] - Sparsities[i - 1]);
            }
            break;
        }
        return best;
    }
}

/// <summary>Sensitivity analysis: each prunable layer pruned alone at several levels and evaluated.</summary>
public static class Sensitivity
{
    /// <summary>The default levels: 0, 10, ..., 90, 95 and 99 %.</summary>
    public static readonly double[] DefaultLevels = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

    /// <summary>Runs the sweep; the model's weights and masks are restored after each trial.</summary>
    public static SensitivityResult Sweep(Module model, DataLoader validation, int classes, double[]? levels = null, Action<string, double, double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(validation);
        var lv = levels ?? DefaultLevels;
        double baseline = TrainingLoop.Evaluate(model, validation, classes).Accuracy;
        var rows = new List<(string, int, double[])>();
        foreach (var (name, p) in Pruner.PrunableWeights(model))
        {
            var saved = p.Data.Clone();
            var savedMask = Pruner.MaskOf(p);
            var acc = new double[lv.Length];
            for (int i = 0; i < lv.Length; i++)
            {
                if (lv[i] == 0 && savedMask is null)
                {
                    acc[i] = baseline;
                    continue;
                }
                Pruner.Magnitude(p, lv[i]);
                acc[i] = TrainingLoop.Evaluate(model, validation, classes).Accuracy;
                using (Tensor.NoGrad()) p.Data.CopyFrom(saved);
                Pruner.SetMask(p, savedMask);
                progress?.Invoke(name, lv[i], acc[i]);
            }
            rows.Add((name, p.NumElements, acc));
        }
        return new SensitivityResult(lv, rows, baseline);
    }
}
