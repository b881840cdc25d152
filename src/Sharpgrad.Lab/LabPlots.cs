using System.Globalization;
using ScottPlot;

namespace Sharpgrad.Lab;

/// <summary>One line of a <see cref="LabPlots.Lines"/> plot: a label for the legend and its points.</summary>
/// <param name="Label">Legend text (null or empty: no legend entry).</param>
/// <param name="X">X values, one per point.</param>
/// <param name="Y">Y values, as many as <paramref name="X"/>; NaN and infinite values are left out.</param>
public sealed record LabSeries(string? Label, IReadOnlyList<double> X, IReadOnlyList<double> Y)
{
    /// <summary>A series whose x values are <paramref name="start"/>, <paramref name="start"/> + 1, ... (steps, epochs, layers).</summary>
    public static LabSeries Steps(string? label, IReadOnlyList<double> y, int start = 1) =>
        new(label, Enumerable.Range(start, y.Count).Select(i => (double)i).ToArray(), y);
}

/// <summary>Options of a lab plot; the defaults suit most plots.</summary>
public sealed record LabPlotOptions
{
    /// <summary>Plot the y values on a base-10 log scale (values &lt;= 0 are left out; tick labels show 10^k).</summary>
    public bool LogY { get; init; }

    /// <summary>Only integer ticks on the x axis (counts: steps, epochs, layers).</summary>
    public bool IntegerX { get; init; }

    /// <summary>Only integer ticks on the y axis (counts).</summary>
    public bool IntegerY { get; init; }

    /// <summary>Draw a marker at every point (small series) as well as the line.</summary>
    public bool Markers { get; init; }

    /// <summary>Horizontal reference lines (a bound, a target), drawn dashed with their label in the legend.</summary>
    public IReadOnlyList<(string Label, double Y)> ReferenceLines { get; init; } = [];

    /// <summary>Image width in pixels.</summary>
    public int Width { get; init; } = 900;

    /// <summary>Image height in pixels.</summary>
    public int Height { get; init; } = 520;
}

/// <summary>
/// The lab's plots (ScottPlot 5), written as PNG: every axis labelled (with its unit), the legend outside the data,
/// integer ticks where the axis counts. Each method writes atomically (a temporary file, then a rename) and
/// overwrites <c>path</c>.
/// </summary>
public static class LabPlots
{
    /// <summary>Line plot of one or more series.</summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">Title above the plot.</param>
    /// <param name="xLabel">X-axis label with its unit, e.g. "step".</param>
    /// <param name="yLabel">Y-axis label with its unit, e.g. "loss (binary cross-entropy)".</param>
    /// <param name="series">The lines; more than one (or a labelled one) gets a legend to the right of the data.</param>
    /// <param name="options">Log scale, integer ticks, markers, reference lines, size.</param>
    /// <exception cref="ArgumentException">No series, or a series whose X and Y differ in length.</exception>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<LabSeries> series, LabPlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException($"LabPlots.Lines: '{title}' has no series.", nameof(series));
        options ??= new LabPlotOptions();
        var plt = new Plot();
        bool legend = false;
        foreach (var s in series)
        {
            if (s.X.Count != s.Y.Count)
                throw new ArgumentException($"LabPlots.Lines: series '{s.Label}' has {s.X.Count} x values and {s.Y.Count} y values.", nameof(series));
            var (xs, ys) = Points(s.X, s.Y, options.LogY);
            var line = plt.Add.Scatter(xs, ys);
            line.LineWidth = 2;
            line.MarkerSize = options.Markers ? 6 : 0;
            if (!string.IsNullOrEmpty(s.Label))
            {
                line.LegendText = s.Label;
                legend = true;
            }
        }
        foreach (var (label, y) in options.ReferenceLines)
        {
            if (options.LogY && !(y > 0)) continue;
            var h = plt.Add.HorizontalLine(options.LogY ? Math.Log10(y) : y);
            h.LinePattern = LinePattern.Dashed;
            h.LineWidth = 1.5f;
            h.LegendText = label;
            legend = true;
        }
        Decorate(plt, title, xLabel, yLabel, options);
        if (legend) plt.ShowLegend(Edge.Right);
        Save(plt, path, options.Width, options.Height);
    }

    /// <summary>
    /// Histogram of one or more groups of values over shared bins (overlaid, half transparent), y = count per bin.
    /// </summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">Title above the plot.</param>
    /// <param name="xLabel">What the values are, with the unit, e.g. "weight value".</param>
    /// <param name="groups">Label and values of each group; NaN and infinite values are left out.</param>
    /// <param name="bins">Number of equal-width bins between the smallest and largest value of all groups.</param>
    /// <param name="options">Log scale (of the counts), size.</param>
    /// <exception cref="ArgumentException">No groups, no finite value, or fewer than one bin.</exception>
    public static void Histogram(string path, string title, string xLabel, IReadOnlyList<(string Label, IReadOnlyList<double> Values)> groups, int bins = 60, LabPlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Count == 0) throw new ArgumentException($"LabPlots.Histogram: '{title}' has no groups.", nameof(groups));
        if (bins < 1) throw new ArgumentException($"LabPlots.Histogram: expected at least one bin, got {bins}.", nameof(bins));
        options ??= new LabPlotOptions();
        var finite = groups.SelectMany(g => g.Values).Where(double.IsFinite).ToArray();
        if (finite.Length == 0) throw new ArgumentException($"LabPlots.Histogram: '{title}' has no finite value.", nameof(groups));
        double lo = finite.Min(), hi = finite.Max();
        if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
        double width = (hi - lo) / bins;
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int gi = 0; gi < groups.Count; gi++)
        {
            var counts = new double[bins];
            foreach (var v in groups[gi].Values)
                if (double.IsFinite(v)) counts[Math.Clamp((int)((v - lo) / width), 0, bins - 1)]++;
            var color = palette.GetColor(gi).WithAlpha(groups.Count > 1 ? 0.55 : 0.9);
            var bars = new List<Bar>();
            for (int b = 0; b < bins; b++)
            {
                double c = options.LogY ? (counts[b] > 0 ? Math.Log10(counts[b]) + 1 : 0) : counts[b];
                bars.Add(new Bar { Position = lo + (b + 0.5) * width, Value = c, Size = width, FillColor = color, LineWidth = 0 });
            }
            plt.Add.Bars(bars);
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = groups[gi].Label, FillColor = color });
        }
        Decorate(plt, title, xLabel, options.LogY ? "count (log scale)" : "count", options with { IntegerY = !options.LogY, LogY = false });
        if (options.LogY)
        {
            // a bar of height log10(count) + 1, so that a single example still shows; label the ticks with counts
            plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                IntegerTicksOnly = true,
                LabelFormatter = v => v < 1 ? "0" : Math.Pow(10, v - 1).ToString("G3", CultureInfo.InvariantCulture),
            };
        }
        plt.Axes.Margins(bottom: 0);
        plt.ShowLegend(Edge.Right);
        Save(plt, path, options.Width, options.Height);
    }

    /// <summary>
    /// Heatmap of a matrix with row 0 at the top, one labelled tick per row and column, a color bar, and optionally a
    /// text in every cell.
    /// </summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">Title above the plot.</param>
    /// <param name="xLabel">What the columns are.</param>
    /// <param name="yLabel">What the rows are.</param>
    /// <param name="values">The color of each cell, [row, column].</param>
    /// <param name="rowLabels">One label per row.</param>
    /// <param name="columnLabels">One label per column.</param>
    /// <param name="cellText">Text drawn in each cell (same shape as <paramref name="values"/>), or null.</param>
    /// <param name="colorLabel">What the colors measure, beside the color bar, or null.</param>
    /// <exception cref="ArgumentException">Labels or cell texts that do not match the matrix.</exception>
    public static void Heatmap(string path, string title, string xLabel, string yLabel, double[,] values, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels, string[,]? cellText = null, string? colorLabel = null)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(rowLabels);
        ArgumentNullException.ThrowIfNull(columnLabels);
        int rows = values.GetLength(0), cols = values.GetLength(1);
        if (rowLabels.Count != rows || columnLabels.Count != cols)
            throw new ArgumentException($"LabPlots.Heatmap: a {rows}x{cols} matrix needs {rows} row and {cols} column labels, got {rowLabels.Count} and {columnLabels.Count}.", nameof(values));
        if (cellText is not null && (cellText.GetLength(0) != rows || cellText.GetLength(1) != cols))
            throw new ArgumentException($"LabPlots.Heatmap: cell texts are {cellText.GetLength(0)}x{cellText.GetLength(1)}, the matrix {rows}x{cols}.", nameof(cellText));
        var plt = new Plot();
        // ScottPlot draws a heatmap's row 0 at the bottom of its extent; with the y axis inverted below (row 0 at
        // the top) the rows must be flipped so that each one lands on its own tick label
        var flipped = new double[rows, cols];
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
            {
                flipped[i, j] = values[rows - 1 - i, j];
                if (double.IsFinite(values[i, j])) { min = Math.Min(min, values[i, j]); max = Math.Max(max, values[i, j]); }
            }
        var hm = plt.Add.Heatmap(flipped);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.Extent = new CoordinateRect(-0.5, cols - 0.5, rows - 0.5, -0.5);
        if (min == max) hm.ManualRange = new ScottPlot.Range(min - 1, max + 1);
        if (cellText is not null)
        {
            double mid = min == max ? double.PositiveInfinity : (min + max) / 2;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                {
                    var t = plt.Add.Text(cellText[i, j], j, i);
                    t.Alignment = Alignment.MiddleCenter;
                    t.LabelFontColor = values[i, j] > mid ? Colors.Black : Colors.White;
                    t.LabelFontSize = Math.Clamp(160f / Math.Max(rows, cols), 9f, 18f);
                }
        }
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, cols).Select(i => (double)i).ToArray(), columnLabels.ToArray());
        plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, rows).Select(i => (double)i).ToArray(), rowLabels.ToArray());
        plt.Axes.SetLimits(-0.5, cols - 0.5, rows - 0.5, -0.5);
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        var bar = plt.Add.ColorBar(hm);
        if (colorLabel is not null) bar.Label = colorLabel;
        int size = Math.Clamp(90 + 60 * Math.Max(rows, cols), 420, 900);
        Save(plt, path, size + 240, size);
    }

    /// <summary>
    /// A confusion matrix: rows the true class, columns the predicted one, each cell's count written in it and colored
    /// by its share of the row.
    /// </summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">Title above the plot.</param>
    /// <param name="counts">[true class, predicted class] counts.</param>
    /// <param name="classes">Class names, one per row and column.</param>
    public static void ConfusionMatrix(string path, string title, int[,] counts, IReadOnlyList<string> classes)
    {
        ArgumentNullException.ThrowIfNull(counts);
        int k = counts.GetLength(0);
        var share = new double[k, counts.GetLength(1)];
        var text = new string[k, counts.GetLength(1)];
        for (int i = 0; i < k; i++)
        {
            double total = 0;
            for (int j = 0; j < counts.GetLength(1); j++) total += counts[i, j];
            for (int j = 0; j < counts.GetLength(1); j++)
            {
                share[i, j] = total == 0 ? 0 : counts[i, j] / total;
                text[i, j] = counts[i, j].ToString(CultureInfo.InvariantCulture);
            }
        }
        Heatmap(path, title, "predicted class", "true class", share, classes, classes, text, "share of the true class's examples");
    }

    /// <summary>Bar chart: one bar per category (e.g. the final train-validation gap per remedy).</summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">Title above the plot.</param>
    /// <param name="yLabel">What the bars measure, with the unit.</param>
    /// <param name="categories">Bar labels.</param>
    /// <param name="values">Bar heights, one per category; each is written above its bar.</param>
    /// <param name="options">Log scale, size.</param>
    public static void Bars(string path, string title, string yLabel, IReadOnlyList<string> categories, IReadOnlyList<double> values, LabPlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(values);
        if (categories.Count != values.Count || categories.Count == 0)
            throw new ArgumentException($"LabPlots.Bars: expected one value per category, got {values.Count} values and {categories.Count} categories.", nameof(values));
        options ??= new LabPlotOptions();
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        for (int i = 0; i < values.Count; i++)
        {
            double v = options.LogY ? (values[i] > 0 ? Math.Log10(values[i]) : double.NaN) : values[i];
            if (!double.IsFinite(v)) continue;
            bars.Add(new Bar { Position = i, Value = v, FillColor = palette.GetColor(i), Label = LabReport.FormatNumber(values[i]) });
        }
        var added = plt.Add.Bars(bars);
        added.ValueLabelStyle.FontSize = 12;
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, categories.Count).Select(i => (double)i).ToArray(), categories.ToArray());
        Decorate(plt, title, "", yLabel, options with { IntegerX = false });
        if (!options.LogY) plt.Axes.Margins(bottom: 0);
        Save(plt, path, options.Width, options.Height);
    }

    private static (double[] X, double[] Y) Points(IReadOnlyList<double> x, IReadOnlyList<double> y, bool logY)
    {
        var xs = new List<double>(x.Count);
        var ys = new List<double>(y.Count);
        for (int i = 0; i < x.Count; i++)
        {
            double v = y[i];
            if (logY) v = v > 0 ? Math.Log10(v) : double.NaN;
            if (!double.IsFinite(v) || !double.IsFinite(x[i])) continue;
            xs.Add(x[i]);
            ys.Add(v);
        }
        return (xs.ToArray(), ys.ToArray());
    }

    private static void Decorate(Plot plt, string title, string xLabel, string yLabel, LabPlotOptions options)
    {
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(yLabel);
        if (options.IntegerX) plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        if (options.LogY)
        {
            plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                IntegerTicksOnly = true,
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                LabelFormatter = v => "1e" + v.ToString("0", CultureInfo.InvariantCulture),
            };
        }
        else if (options.IntegerY)
        {
            plt.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        }
    }

    /// <summary>Renders <paramref name="plt"/> as PNG to a temporary file beside <paramref name="path"/>, then renames it.</summary>
    internal static void Save(Plot plt, string path, int width, int height)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Guid.NewGuid().ToString("N") + ".tmp");
        try
        {
            File.WriteAllBytes(tmp, plt.GetImageBytes(width, height, ImageFormat.Png));
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
