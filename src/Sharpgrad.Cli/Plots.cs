using Sharpgrad.NN;
using Sharpgrad.Workflows;
using ScottPlot;

namespace Sharpgrad.Cli;

/// <summary>PNG plots of a run: loss and accuracy curves (train against test) and the test confusion matrix.</summary>
internal static class Plots
{
    public const string Loss = "loss.png";
    public const string Accuracy = "accuracy.png";
    public const string Confusion = "confusion.png";

    public static void WriteAll(string dir, IReadOnlyList<EpochMetrics> metrics, int[,] confusion, IReadOnlyList<string> classes)
    {
        double[] x = metrics.Select(m => (double)m.Epoch).ToArray();
        Save(Curves("Loss", "cross-entropy loss (nats per image)", x, metrics.Select(m => m.TrainLoss).ToArray(), metrics.Select(m => m.TestLoss).ToArray()), Path.Combine(dir, Loss), 800, 500);
        Save(Curves("Accuracy", "accuracy (%)", x, metrics.Select(m => m.TrainAccuracy * 100).ToArray(), metrics.Select(m => m.TestAccuracy * 100).ToArray()), Path.Combine(dir, Accuracy), 800, 500);
        Save(ConfusionMatrix(confusion, classes), Path.Combine(dir, Confusion), ConfusionWidth, ConfusionHeight);
    }

    internal const int ConfusionWidth = 900, ConfusionHeight = 800;

    /// <summary>Train against test per epoch: whole-epoch ticks, labelled axes, the legend outside the data.</summary>
    internal static Plot Curves(string title, string yLabel, double[] epochs, double[] train, double[] test)
    {
        var plt = new Plot();
        var a = plt.Add.Scatter(epochs, train);
        a.LegendText = "train";
        var b = plt.Add.Scatter(epochs, test);
        b.LegendText = "test";
        plt.Title(title);
        plt.XLabel("epoch");
        plt.YLabel(yLabel);
        int last = epochs.Length == 0 ? 1 : (int)epochs.Max();
        int first = epochs.Length == 0 ? 1 : (int)epochs.Min();
        int step = Math.Max(1, (int)Math.Ceiling((last - first + 1) / 12.0));
        var ticks = Enumerable.Range(0, (last - first) / step + 1).Select(t => (double)(first + t * step)).ToArray();
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, ticks.Select(t => t.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plt.Axes.SetLimitsX(first - 0.5, last + 0.5);
        plt.ShowLegend(Edge.Right);
        return plt;
    }

    /// <summary>
    /// The confusion matrix as a heatmap: cell (i, j) is centred on x = j (predicted class j's tick) and
    /// y = k - 1 - i (true class i's tick, row 0 at the top), coloured by the share of class i's test images
    /// predicted as j (0-100%, the colour bar), with the count written in it.
    /// </summary>
    internal static Plot ConfusionMatrix(int[,] confusion, IReadOnlyList<string> classes)
    {
        int k = confusion.GetLength(0);
        var percent = RowPercentages(confusion);
        var plt = new Plot();
        // row 0 of the data is drawn at the top; Rectangle gives the cells' outer edges, one unit per cell
        var hm = plt.Add.Heatmap(percent);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.ManualRange = new ScottPlot.Range(0, 100);
        hm.Rectangle = new CoordinateRect(-0.5, k - 0.5, -0.5, k - 0.5);
        var ic = System.Globalization.CultureInfo.InvariantCulture;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                var t = plt.Add.Text(confusion[i, j].ToString(ic), j, k - 1 - i);
                t.Alignment = Alignment.MiddleCenter;
                t.LabelFontColor = percent[i, j] > 50 ? Colors.Black : Colors.White;
                t.LabelFontSize = k <= 12 ? 12 : 9;
            }
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, k).Select(j => (double)j).ToArray(), Enumerable.Range(0, k).Select(j => j.ToString(ic)).ToArray());
        plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, k).Select(i => (double)(k - 1 - i)).ToArray(), classes.Select((c, i) => $"{i} {c}").ToArray());
        plt.Axes.SetLimits(-0.5, k - 0.5, -0.5, k - 0.5);
        plt.Title("Test confusion matrix");
        plt.XLabel("predicted class");
        plt.YLabel("true class");
        var bar = plt.Add.ColorBar(hm);
        bar.Label = "% of the true class's test images";
        return plt;
    }

    /// <summary>Each row as percentages of its total (a row without images is all zero).</summary>
    internal static double[,] RowPercentages(int[,] confusion)
    {
        int k = confusion.GetLength(0);
        var values = new double[k, k];
        for (int i = 0; i < k; i++)
        {
            double total = 0;
            for (int j = 0; j < k; j++) total += confusion[i, j];
            for (int j = 0; j < k; j++) values[i, j] = total == 0 ? 0 : 100.0 * confusion[i, j] / total;
        }
        return values;
    }

    /// <summary>Validation accuracy against sparsity, one line per layer.</summary>
    public static void Sensitivity(string path, Sharpgrad.NN.SensitivityResult s)
    {
        var plt = new Plot();
        double[] x = s.Sparsities.Select(v => v * 100).ToArray();
        foreach (var (layer, n, acc) in s.Layers)
        {
            var line = plt.Add.Scatter(x, acc.Select(a => a * 100).ToArray());
            line.LegendText = $"{layer} ({n:N0} weights)";
        }
        plt.Title("Sensitivity: each layer pruned alone by magnitude");
        plt.XLabel("sparsity of the layer (%)");
        plt.YLabel("validation accuracy (%)");
        plt.ShowLegend(Edge.Right);
        Save(plt, path, 1000, 550);
    }

    /// <summary>One histogram per layer, stacked vertically; the title says how many weights are exactly zero.</summary>
    public static void WeightHistograms(string path, IReadOnlyList<(string Name, float[] Values)> layers)
    {
        const int w = 900, h = 260;
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(w, h * layers.Count));
        surface.Canvas.Clear(SkiaSharp.SKColors.White);
        for (int i = 0; i < layers.Count; i++)
        {
            var (name, v) = layers[i];
            int zeros = v.Count(x => x == 0);
            double lim = Math.Max(1e-6, v.Max(x => Math.Abs((double)x)));
            const int bins = 101;
            var counts = new double[bins];
            foreach (var x in v) counts[Math.Clamp((int)Math.Round((x / lim + 1) / 2 * (bins - 1)), 0, bins - 1)]++;
            var plt = new Plot();
            var bars = plt.Add.Bars(Enumerable.Range(0, bins).Select(b => -lim + 2 * lim * b / (bins - 1)).ToArray(), counts);
            foreach (var bar in bars.Bars) bar.Size = 2 * lim / (bins - 1);
            plt.Title($"{name}: {v.Length:N0} weights, {zeros:N0} exactly zero ({100.0 * zeros / v.Length:F1}%)");
            plt.YLabel("count");
            plt.Axes.Margins(bottom: 0);
            // each plot is rendered on its own and drawn into its band (rendering into a rect clears the whole canvas)
            using var bitmap = SkiaSharp.SKBitmap.Decode(plt.GetImageBytes(w, h, ImageFormat.Png));
            surface.Canvas.DrawBitmap(bitmap, 0, i * h);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        var tmp = path + ".tmp.png";
        try
        {
            using (var fs = File.Create(tmp)) data.SaveTo(fs);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    internal static void Save(Plot plt, string path, int w, int h)
    {
        var tmp = path + ".tmp.png";
        try
        {
            plt.SavePng(tmp, w, h);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
