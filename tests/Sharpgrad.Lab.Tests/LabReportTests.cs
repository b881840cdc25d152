using System.Text.Json;
using Xunit;

namespace Sharpgrad.Lab.Tests;

public sealed class LabReportTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sharpgrad-labreport-" + Guid.NewGuid().ToString("N"));

    public LabReportTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private sealed class Fake(string title) : LabExperiment
    {
        public override int Number => 3;
        public override string Title => title;
        public override string Question => "Is 1 < 2 & \"x\" > 'y'?";
        public override string Answer => "<b>yes</b>";
        public override LabResult Run(LabContext context) => throw new NotSupportedException();
    }

    [Fact]
    public void TextIsEscapedAndFailuresAndErrorsShow()
    {
        var result = new LabResult();
        result.Add("a <number>", 1.5);
        result.Add("not finite", double.NaN);
        result.Check("<check>", "1 & 2", "3", passed: false);
        result.Findings.Add("<script>alert(1)</script>");
        result.Tables.Add(new LabTable("<caption>", ["<head-cell>"], [["<cell>"]]));
        var failed = new LabOutcome(new Fake("<i>title</i>"), result, null);
        var broken = new LabOutcome(new Fake("broken"), new LabResult(), new InvalidOperationException("went <wrong>"));
        Assert.False(failed.Passed);
        Assert.False(broken.Passed);
        LabReport.Write(_root, [failed], new LabContext { OutDir = _root });
        var page = File.ReadAllText(Path.Combine(_root, "q3.html"));
        foreach (var raw in new[] { "<script>", "<b>yes", "<i>title", "<check>", "<caption>", "<head-cell>", "<cell>", "<number>", "& \"" })
            Assert.DoesNotContain(raw, page);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", page);
        Assert.Contains("class=\"failed\">fail<", page);
        Assert.Contains("class=\"failed\">failed<", File.ReadAllText(Path.Combine(_root, "index.html")));
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_root, "q3.json"))).RootElement;
        Assert.Equal("NaN", json.GetProperty("numbers").GetProperty("not finite").GetString());
        Assert.Equal(1.5, json.GetProperty("numbers").GetProperty("a <number>").GetDouble());
        Assert.False(JsonDocument.Parse(File.ReadAllText(Path.Combine(_root, "results.json"))).RootElement.GetProperty("passed").GetBoolean());

        LabReport.Write(_root, [broken], new LabContext { OutDir = _root });
        page = File.ReadAllText(Path.Combine(_root, "q3.html"));
        Assert.Contains("InvalidOperationException: went &lt;wrong&gt;", page);
        Assert.Contains("class=\"error\">error<", File.ReadAllText(Path.Combine(_root, "index.html")));
    }

    [Fact]
    public void APlotThatWasNotWrittenIsAnError()
    {
        var result = new LabResult();
        result.Check("c", "1", "1", passed: true);
        result.Plots.Add(new LabPlot("q3-missing.png", "missing"));
        var e = Assert.Throws<InvalidOperationException>(() => LabReport.Write(_root, [new LabOutcome(new Fake("t"), result, null)], new LabContext { OutDir = _root }));
        Assert.Equal("q3: the plot 'q3-missing.png' is not a file in the report folder.", e.Message);
    }

    [Fact]
    public void TheBrowserCheckSeesABrokenImageAndABlockedRequest()
    {
        // the check itself must be able to fail: a page with the report's policy, an image that does not decode, and an external image
        var page = Path.Combine(_root, "bad.html");
        File.WriteAllText(page, $"""
            <!DOCTYPE html><html><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="{System.Net.WebUtility.HtmlEncode(LabReport.ContentSecurityPolicy)}">
            <title>bad</title></head><body>
            <img alt="garbage" src="data:image/png;base64,AAAAAAAA">
            <img alt="external" src="http://127.0.0.1:9/x.png">
            </body></html>
            """);
        var r = BrowserCheck.Load(page);
        Assert.Equal(2, r.Images);
        Assert.Contains(r.Problems, p => p.Contains("garbage", StringComparison.Ordinal));
        Assert.Contains(r.Problems, p => p.Contains("127.0.0.1", StringComparison.Ordinal));
    }

    [Fact]
    public void PlotsAreWrittenAsPngAndRefuseMismatchedInput()
    {
        var lines = Path.Combine(_root, "lines.png");
        LabPlots.Lines(lines, "t", "step", "loss", [LabSeries.Steps("a", [3, 2, 1]), new LabSeries("b", [1, 2, 3], [0, double.NaN, 1e-3])],
            new LabPlotOptions { LogY = true, IntegerX = true, ReferenceLines = [("bound", 0.25)] });
        var hist = Path.Combine(_root, "hist.png");
        LabPlots.Histogram(hist, "t", "value", [("a", [0.0, 0.0, 1.0]), ("b", [0.5])], 10, new LabPlotOptions { LogY = true });
        var cm = Path.Combine(_root, "cm.png");
        LabPlots.ConfusionMatrix(cm, "t", new[,] { { 5, 0 }, { 1, 4 } }, ["neg", "pos"]);
        var bars = Path.Combine(_root, "bars.png");
        LabPlots.Bars(bars, "t", "parameters", ["a", "b"], [448, 2320]);
        foreach (var f in new[] { lines, hist, cm, bars })
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(f)[..4]);
        Assert.Equal(["bars.png", "cm.png", "hist.png", "lines.png"], Directory.GetFiles(_root).Select(Path.GetFileName).Order());

        Assert.Throws<ArgumentException>(() => LabPlots.Lines(lines, "t", "x", "y", [new LabSeries("a", [1, 2], [1])]));
        Assert.Throws<ArgumentException>(() => LabPlots.Lines(lines, "t", "x", "y", []));
        Assert.Throws<ArgumentException>(() => LabPlots.Heatmap(cm, "t", "x", "y", new double[2, 3], ["a", "b"], ["a", "b"]));
        Assert.Throws<ArgumentException>(() => LabPlots.Bars(bars, "t", "y", ["a"], [1, 2]));
        Assert.Throws<ArgumentException>(() => LabPlots.Histogram(hist, "t", "x", [("a", [double.NaN])]));
    }
}
