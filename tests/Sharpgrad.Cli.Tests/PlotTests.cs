using ScottPlot;
using SkiaSharp;
using Xunit;

namespace Sharpgrad.Cli.Tests;

/// <summary>The rendered plots: each confusion-matrix cell sits on its ticks, in its colour, with its count.</summary>
public sealed class PlotTests
{
    [Fact]
    public void ConfusionMatrixCellsSitOnTheirTicksInTheirColours()
    {
        // five classes whose rows spread their images differently, so neighbouring cells differ in colour
        int[,] confusion =
        {
            { 90, 10, 0, 0, 0 },
            { 5, 60, 30, 5, 0 },
            { 0, 20, 40, 0, 40 },
            { 25, 0, 0, 75, 0 },
            { 0, 0, 45, 10, 45 },
        };
        string[] classes = ["a", "b", "c", "d", "e"];
        int k = classes.Length;
        var plt = Plots.ConfusionMatrix(confusion, classes);
        using var bitmap = SKBitmap.Decode(plt.GetImage(Plots.ConfusionWidth, Plots.ConfusionHeight).GetImageBytes(ImageFormat.Png));
        var percent = Plots.RowPercentages(confusion);
        var viridis = new ScottPlot.Colormaps.Viridis();
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
            {
                var expected = viridis.GetColor(percent[i, j] / 100);
                // four points inside the cell, around its centre (which holds the count): a cell drawn half a cell
                // off its ticks puts two of them in a neighbour
                foreach (var (dx, dy) in new[] { (-0.3, -0.3), (-0.3, 0.3), (0.3, -0.3), (0.3, 0.3) })
                {
                    var px = plt.GetPixel(new Coordinates(j + dx, k - 1 - i + dy));
                    var c = bitmap.GetPixel((int)px.X, (int)px.Y);
                    Assert.True(Math.Abs(c.Red - expected.R) <= 6 && Math.Abs(c.Green - expected.G) <= 6 && Math.Abs(c.Blue - expected.B) <= 6,
                        $"cell ({i}, {j}) at {dx:+0.0;-0.0},{dy:+0.0;-0.0}: pixel {c}, expected {expected} ({percent[i, j]:F1}%)");
                }
            }
        // the counts are centred on the cells, the ticks on the cells' centres, and the colour bar says what it shows
        var texts = plt.GetPlottables().OfType<ScottPlot.Plottables.Text>().ToList();
        Assert.Equal(k * k, texts.Count);
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                Assert.Contains(texts, t => t.LabelText == confusion[i, j].ToString(System.Globalization.CultureInfo.InvariantCulture)
                    && t.Location.X == j && t.Location.Y == k - 1 - i && t.Alignment == Alignment.MiddleCenter);
        var left = plt.Axes.Left.TickGenerator.Ticks.Where(t => t.IsMajor).ToList();
        for (int i = 0; i < k; i++) Assert.Contains(left, t => t.Position == k - 1 - i && t.Label == $"{i} {classes[i]}");
        var bottom = plt.Axes.Bottom.TickGenerator.Ticks.Where(t => t.IsMajor).Select(t => t.Position).ToList();
        Assert.Equal(Enumerable.Range(0, k).Select(j => (double)j), bottom);
        var bar = Assert.Single(plt.Axes.GetPanels().OfType<ScottPlot.Panels.ColorBar>());
        Assert.Equal("% of the true class's test images", bar.Label);
    }

    [Fact]
    public void CurvesHaveWholeEpochTicksAndPercentAccuracy()
    {
        double[] epochs = Enumerable.Range(1, 30).Select(e => (double)e).ToArray();
        var plt = Plots.Curves("Accuracy", "accuracy (%)", epochs, epochs.Select(e => 50 + e).ToArray(), epochs.Select(e => 48 + e).ToArray());
        plt.GetImage(800, 500);
        var ticks = plt.Axes.Bottom.TickGenerator.Ticks.Where(t => t.IsMajor).Select(t => t.Position).ToList();
        Assert.All(ticks, t => Assert.Equal(Math.Round(t), t));
        Assert.Contains(1.0, ticks);
        Assert.True(ticks.Count is >= 5 and <= 15, string.Join(",", ticks));
        Assert.Equal("accuracy (%)", plt.Axes.Left.Label.Text);
        Assert.Equal("epoch", plt.Axes.Bottom.Label.Text);
    }
}
