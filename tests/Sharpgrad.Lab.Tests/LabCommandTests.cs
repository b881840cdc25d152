using Sharpgrad.Cli;
using Xunit;

namespace Sharpgrad.Lab.Tests;

[Collection("lab")]
public sealed class LabCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sharpgrad-labcmd-" + Guid.NewGuid().ToString("N"));

    public LabCommandTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SharpgradCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private static void OneLineError(int expectedCode, (int Code, string Out, string Err) r, string expected)
    {
        Assert.Equal(expectedCode, r.Code);
        Assert.Equal("", r.Out);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.Equal(expected, r.Err.TrimEnd());
    }

    [Fact]
    public void BadQuestionsAndOptionsGiveOneLineErrorsAndWriteNothing()
    {
        var valid = string.Join(", ", LabRunner.ValidIds);
        var outDir = Path.Combine(_root, "out");
        OneLineError(2, Run("lab", "q99", "--out", outDir), $"error: lab: unknown question 'q99'; valid: {valid}.");
        OneLineError(2, Run("lab", "q10", "qq", "--out", outDir), $"error: lab: unknown question 'qq'; valid: {valid}.");
        OneLineError(2, Run("lab", "q10", "--bogus", "--out", outDir), $"error: lab: unknown option '--bogus'; expected questions ({string.Join(" ", LabRunner.ValidIds)}), --out DIR, --quick, --seed N, --data DIR.");
        OneLineError(2, Run("lab", "q10", "--seed", "-3", "--out", outDir), "error: --seed: expected a non-negative integer, got '-3'.");
        OneLineError(2, Run("lab", "q10", "--seed", "abc", "--out", outDir), "error: --seed: expected a non-negative integer, got 'abc'.");
        var missing = Path.Combine(_root, "no-such-folder");
        OneLineError(2, Run("lab", "q10", "--data", missing, "--out", outDir), $"error: --data: folder '{missing}' does not exist.");
        Assert.False(Directory.Exists(outDir));

        // a folder that holds something else is never replaced
        var other = Path.Combine(_root, "other");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "notes.txt"), "mine");
        OneLineError(2, Run("lab", "q10", "--out", other), $"error: lab: output folder '{other}' exists and is not a lab report (it has no {LabReport.Marker}); choose an empty or new folder.");
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(other).Select(Path.GetFileName));

        // a data folder without Fashion-MNIST: one line naming the file, nothing written
        var empty = Path.Combine(_root, "empty");
        Directory.CreateDirectory(empty);
        var r = Run("lab", "q6", "--quick", "--data", empty, "--out", outDir);
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.StartsWith("error: ", r.Err);
        Assert.Contains(empty, r.Err);
        Assert.False(Directory.Exists(outDir));
        Assert.Equal(["empty", "other"], Directory.GetFileSystemEntries(_root).Select(Path.GetFileName).Order());

        // a report folder that cannot be made (its parent is a file): one line naming --out, not a stack trace
        var file = Path.Combine(_root, "file");
        File.WriteAllText(file, "x");
        var under = Path.Combine(file, "lab");
        var unwritable = Run("lab", "q10", "--out", under);
        Assert.Equal(2, unwritable.Code);
        Assert.Equal("", unwritable.Out);
        Assert.Single(unwritable.Err.TrimEnd().Split('\n'));
        Assert.StartsWith($"error: lab: cannot write the report '{under}' (", unwritable.Err);
        Assert.DoesNotContain("System.", unwritable.Err);
        Assert.DoesNotContain("   at ", unwritable.Err);
    }

    [Fact]
    public void AnUnwritableOutFolderIsOneLineAndFoldersBesideTheReportThatAreNotItsOwnAreKept()
    {
        // the parent of --out is a file: the staging folder cannot be made (as root, permissions would not stop it)
        var file = Path.Combine(_root, "a-file");
        File.WriteAllText(file, "mine");
        var under = Path.Combine(file, "report");
        var r = Run("lab", "q10", "--quick", "--out", under);
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.StartsWith($"error: lab: cannot write the report '{under}' (its staging folder goes beside it, in '{file}'): ", r.Err);
        Assert.Equal("mine", File.ReadAllText(file));

        // a user's own folders named like the lab's leftovers survive a rerun; the lab's own leftovers do not
        var outDir = Path.Combine(_root, "lab");
        Assert.Equal(0, Run("lab", "q10", "--quick", "--out", outDir).Code);
        Directory.Move(outDir, outDir + ".old-mine");
        Directory.CreateDirectory(Path.Combine(_root, ".lab.staging-x"));
        Directory.CreateDirectory(Path.Combine(_root, ".lab.staging-0123456789ab"));
        var again = Run("lab", "q10", "--quick", "--out", outDir);
        Assert.True(again.Code == 0, again.Err);
        Assert.Equal([".lab.staging-x", "a-file", "lab", "lab.old-mine"], Directory.GetFileSystemEntries(_root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(Path.Combine(outDir + ".old-mine", "q10.html")));
    }

    [Fact]
    public void OneQuestionRunsAloneAndARerunReplacesTheReport()
    {
        var outDir = Path.Combine(_root, "q10");
        var r = Run("lab", "Q10", "--out", outDir);
        Assert.True(r.Code == 0, r.Out + r.Err);
        Assert.Contains("q10", r.Out);
        Assert.Contains("1 of 1 questions passed", r.Out);
        Assert.Equal(["q10"], System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json"))).RootElement
            .GetProperty("questions").EnumerateArray().Select(q => q.GetProperty("id").GetString()));
        File.WriteAllText(Path.Combine(outDir, "stale.txt"), "from before");
        var again = Run("lab", "q10", "q10", "--out", outDir);
        Assert.True(again.Code == 0, again.Err);
        Assert.False(File.Exists(Path.Combine(outDir, "stale.txt")));
        Assert.True(File.Exists(Path.Combine(outDir, "q10.html")));
        Assert.Equal(["q10"], Directory.GetFileSystemEntries(_root).Select(Path.GetFileName));
    }

    [Fact]
    public void ACancelledRunLeavesThePreviousReportAndNoStagingFolder()
    {
        var outDir = Path.Combine(_root, "report");
        // what a killed run leaves behind is removed by the next run of the same report
        Directory.CreateDirectory(Path.Combine(_root, ".report.staging-0123456789ab", "sub"));
        Directory.CreateDirectory(Path.Combine(_root, "report.old-0123456789ab"));
        LabRunner.Run(["q10"], new LabContext { OutDir = outDir });
        Assert.Equal(["report"], Directory.GetFileSystemEntries(_root).Select(Path.GetFileName));
        var before = File.ReadAllBytes(Path.Combine(outDir, "q10.html"));
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => LabRunner.Run(["q5", "q10"], new LabContext { OutDir = outDir, Cancellation = cts.Token, Quick = true }));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(outDir, "q10.html")));
        Assert.False(File.Exists(Path.Combine(outDir, "q5.html")));
        Assert.Equal(["report"], Directory.GetFileSystemEntries(_root).Select(Path.GetFileName));
    }

    [Fact]
    public void SelectionIsInQuestionOrderWithoutDuplicates()
    {
        Assert.Equal(LabRunner.All, LabRunner.Select([]));
        Assert.Equal(LabRunner.All, LabRunner.Select(["all", "q10"]));
        Assert.Equal(["q5", "q10"], LabRunner.Select(["q10", "5", "Q5"]).Select(e => e.Id));
        Assert.Equal(LabRunner.All.OrderBy(e => e.Number), LabRunner.All);
        Assert.Equal(LabRunner.All.Count, LabRunner.All.Select(e => e.Number).Distinct().Count());
    }
}
