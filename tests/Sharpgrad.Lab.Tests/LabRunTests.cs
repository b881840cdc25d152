using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace Sharpgrad.Lab.Tests;

[Collection("lab")]
public sealed class LabRunTests(QuickLabRun run, ITestOutputHelper log)
{
    [Fact]
    public void LabAllQuickRunsEveryExperimentAndEveryCheckPasses()
    {
        log.WriteLine($"lab all --quick: {run.Seconds:F1} s");
        log.WriteLine(run.Out);
        Assert.True(run.Code == 0, run.Out + run.Err);
        Assert.Equal("", run.Err);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.OutDir, "results.json")));
        var questions = doc.RootElement.GetProperty("questions").EnumerateArray().ToList();
        Assert.Equal(LabRunner.All.Select(e => e.Id), questions.Select(q => q.GetProperty("id").GetString()));
        Assert.Contains("q5", LabRunner.All.Select(e => e.Id));
        Assert.Contains("q10", LabRunner.All.Select(e => e.Id));
        var failed = questions.SelectMany(q => q.GetProperty("checks").EnumerateArray()
                .Where(c => !c.GetProperty("passed").GetBoolean())
                .Select(c => $"{q.GetProperty("id").GetString()}: {c.GetProperty("name").GetString()}: expected {c.GetProperty("expected").GetString()}, measured {c.GetProperty("measured").GetString()}"))
            .ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed));
        foreach (var q in questions)
        {
            Assert.NotEqual(0, q.GetProperty("checks").GetArrayLength());
            Assert.Equal(JsonValueKind.Null, q.GetProperty("error").ValueKind);
            Assert.True(q.GetProperty("passed").GetBoolean());
            Assert.NotEqual(0, q.GetProperty("findings").GetArrayLength());
        }
        Assert.True(doc.RootElement.GetProperty("passed").GetBoolean());
        Assert.Contains($"{questions.Count} of {questions.Count} questions passed", run.Out);
    }

    [Fact]
    public void TheExamsNumbersAreInTheJson()
    {
        JsonElement Numbers(string id) => JsonDocument.Parse(File.ReadAllText(Path.Combine(run.OutDir, id + ".json"))).RootElement.GetProperty("numbers");
        Assert.Equal(13050, Numbers("q10").GetProperty("3x32x32: trainable parameters").GetDouble());
        Assert.Equal(10362, Numbers("q10").GetProperty("1x28x28: trainable parameters").GetDouble());
        Assert.Equal(100, Numbers("q7").GetProperty("sigma(ReLU(z)): predicted positive (%)").GetDouble());
        Assert.Equal(0, Numbers("q8").GetProperty("Step: first-layer values that changed bitwise").GetDouble());
        Assert.True(Numbers("q8").GetProperty("ReLU: first-layer values that changed bitwise").GetDouble() > 0);
        Assert.InRange(Numbers("q6").GetProperty("float64: max |autograd - (Y_hat - Y) X^T / m| over all steps").GetDouble(), 0, 1e-12);
        Assert.InRange(Numbers("q5").GetProperty("float32: max difference in machine epsilons").GetDouble(), 0, 4);
    }

    [Fact]
    public void EveryPageExistsWithItsPlotsEmbeddedAndNothingExternal()
    {
        var index = File.ReadAllText(Path.Combine(run.OutDir, "index.html"));
        foreach (var e in LabRunner.All)
        {
            Assert.Contains($"href=\"{e.Id}.html\"", index);
            var page = File.ReadAllText(Path.Combine(run.OutDir, e.Id + ".html"));
            Assert.Contains(System.Net.WebUtility.HtmlEncode(e.Question), page);
            Assert.Contains(System.Net.WebUtility.HtmlEncode(e.Answer), page);
            var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.OutDir, e.Id + ".json"))).RootElement;
            var plots = json.GetProperty("plots").EnumerateArray().Select(p => p.GetProperty("file").GetString()!).ToList();
            Assert.NotEmpty(plots);
            var images = Regex.Matches(page, "<img [^>]*src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").Select(m => Convert.FromBase64String(m.Groups[1].Value)).ToList();
            Assert.Equal(plots.Count, images.Count);
            Assert.Equal(plots.Count, Regex.Matches(page, "<img ").Count);
            for (int i = 0; i < plots.Count; i++)
                Assert.Equal(File.ReadAllBytes(Path.Combine(run.OutDir, plots[i])), images[i]); // the PNG beside the page is the one embedded
            foreach (var html in new[] { page, index })
            {
                Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("http://", html, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("https://", html, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("@import", html, StringComparison.OrdinalIgnoreCase);
                Assert.Contains(LabReport.ContentSecurityPolicy.Replace("'", "&#39;", StringComparison.Ordinal), html);
            }
        }
        // nothing half-written: no staging folder or temporary file beside or in the report
        Assert.Equal(["report"], Directory.GetFileSystemEntries(run.Root).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(run.OutDir, "*.tmp", SearchOption.AllDirectories));
        Assert.True(File.Exists(Path.Combine(run.OutDir, LabReport.Marker)));
    }

    [Fact]
    public void EveryPageLoadsInHeadlessChromiumWithItsImagesAndNoConsoleMessage()
    {
        var pages = new[] { "index.html" }.Concat(LabRunner.All.Select(e => e.Id + ".html")).ToList();
        foreach (var page in pages)
        {
            var r = BrowserCheck.Load(Path.Combine(run.OutDir, page));
            log.WriteLine($"{page}: {r.Images} images, {r.Width} px wide");
            Assert.True(r.Problems.Count == 0, $"{page}: {string.Join("; ", r.Problems)}");
            Assert.Equal(Regex.Matches(File.ReadAllText(Path.Combine(run.OutDir, page)), "<img ").Count, r.Images);
            if (page != "index.html") Assert.True(r.Images > 0, page);
        }
    }
}
