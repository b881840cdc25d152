using Sharpgrad.NN;
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
        Curves(Path.Combine(dir, Loss), "Loss (cross-entropy)", x, metrics.Select(m => m.TrainLoss).ToArray(), metrics.Select(m => m.TestLoss).ToArray());
        Curves(Path.Combine(dir, Accuracy), "Accuracy", x, metrics.Select(m => m.TrainAccuracy).ToArray(), metrics.Select(m => m.TestAccuracy).ToArray());
        ConfusionMatrix(Path.Combine(dir, Confusion), confusion, classes);
    }

    private static void Curves(string path, string title, double[] x, double[] train, double[] test)
    {
        var plt = new Plot();
        var a = plt.Add.Scatter(x, train);
        a.LegendText = "train";
        var b = plt.Add.Scatter(x, test);
        b.LegendText = "test";
        plt.Title(title);
        plt.XLabel("epoch");
        plt.ShowLegend(Alignment.UpperRight);
        Save(plt, path, 800, 500);
    }

    private static void ConfusionMatrix(string path, int[,] confusion, IReadOnlyList<string> classes)
    {
        int k = confusion.GetLength(0);
        var values = new double[k, k];
        for (int i = 0; i < k; i++)
        {
            double total = 0;
            for (int j = 0; j < k; j++) total += confusion[i, j];
            for (int j = 0; j < k; j++) values[i, j] = total == 0 ? 0 : confusion[i, j] / total;
        }
        var plt = new Plot();
        // with the y axis inverted (row 0 at the top) ScottPlot draws the heatmap's rows bottom-up: flip them
        var flipped = new double[k, k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) flipped[i, j] = values[k - 1 - i, j];
        var hm = plt.Add.Heatmap(flipped);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.Extent = new CoordinateRect(-0.5, k - 0.5, k - 0.5, -0.5);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                var t = plt.Add.Text(confusion[i, j].ToString(System.Globalization.CultureInfo.InvariantCulture), j, i);
                t.Alignment = Alignment.MiddleCenter;
                t.LabelFontColor = values[i, j] > 0.5 ? Colors.Black : Colors.White;
                t.LabelFontSize = 11;
            }
        double[] ticks = Enumerable.Range(0, k).Select(i => (double)i).ToArray();
        string[] labels = classes.Select((c, i) => $"{i} {c}").ToArray();
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, Enumerable.Range(0, k).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, labels);
        plt.Axes.SetLimits(-0.5, k - 0.5, k - 0.5, -0.5);
        plt.Title("Test confusion matrix (rows: true class, columns: predicted)");
        plt.XLabel("predicted");
        plt.Add.ColorBar(hm);
        Save(plt, path, 900, 800);
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
        plt.ShowLegend(Alignment.LowerLeft);
        Save(plt, path, 900, 550);
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

    private static void Save(Plot plt, string path, int w, int h)
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
