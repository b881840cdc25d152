using System.Globalization;
using Xunit;
using Xunit.Abstractions;

namespace Sharpgrad.NN.Tests.Fuzz;

/// <summary>
/// The bounded fuzz run of every loader (2,000 mutated inputs each by default) and the regression inputs it or a
/// long run found. The long run: SHARPGRAD_FUZZ_INPUTS=1000000 (per loader), optionally SHARPGRAD_FUZZ_TARGETS=png,jpeg,
/// SHARPGRAD_FUZZ_SEED and SHARPGRAD_FUZZ_REPORT=FILE (tools/fuzz.sh sets them and prints the report).
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    public static TheoryData<string> TargetNames()
    {
        var data = new TheoryData<string>();
        var only = Environment.GetEnvironmentVariable("SHARPGRAD_FUZZ_TARGETS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var t in FuzzHarness.Targets)
            if (only is null || only.Contains(t.Name)) data.Add(t.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void LoaderThrowsOnlyDataException(string name)
    {
        var target = FuzzHarness.Targets.Single(t => t.Name == name);
        long inputs = long.TryParse(Environment.GetEnvironmentVariable("SHARPGRAD_FUZZ_INPUTS"), CultureInfo.InvariantCulture, out var n) ? n : 2000;
        ulong seed = ulong.TryParse(Environment.GetEnvironmentVariable("SHARPGRAD_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 1;
        var reportFile = Environment.GetEnvironmentVariable("SHARPGRAD_FUZZ_REPORT");
        void Progress(string line)
        {
            output.WriteLine(line);
            if (reportFile is { Length: > 0 }) lock (typeof(FuzzTests)) File.AppendAllText(reportFile, "  ... " + line + Environment.NewLine);
        }
        var report = FuzzHarness.Run(target, inputs, seed, Progress);
        output.WriteLine(report.Line());
        if (reportFile is { Length: > 0 })
            lock (typeof(FuzzTests)) File.AppendAllText(reportFile, report.Line() + Environment.NewLine + string.Concat(report.Failures.Take(20).Select(f => "  " + f + Environment.NewLine)));
        Assert.True(report.Failures.Count == 0, string.Join(Environment.NewLine, report.Failures.Take(10)));
        Assert.True(report.Rejected > 0 && report.Rejected < inputs, $"{name}: {report.Rejected} of {inputs} inputs rejected; the mutator should give both kinds.");
        // managed bytes one input allocated (deterministic, so checked here; time and resident memory are only reported)
        Assert.True(report.MostAllocatedBytes < 256L << 20, $"{name}: an input allocated {report.MostAllocatedBytes} bytes.");
    }

    public static TheoryData<string, string> Regressions()
    {
        var data = new TheoryData<string, string>();
        if (!Directory.Exists(FuzzHarness.RegressionRoot)) return data;
        foreach (var dir in Directory.GetDirectories(FuzzHarness.RegressionRoot).Order(StringComparer.Ordinal))
            foreach (var f in Directory.GetFiles(dir, "*.bin").Order(StringComparer.Ordinal))
                data.Add(Path.GetFileName(dir), Path.GetFileName(f));
        return data;
    }

    /// <summary>Every input a fuzz run found is kept: it must now be refused with the message in its .txt file.</summary>
    [Theory]
    [MemberData(nameof(Regressions))]
    public void RegressionInputIsRefusedWithItsMessage(string target, string file)
    {
        var path = Path.Combine(FuzzHarness.RegressionRoot, target, file);
        var expected = File.ReadAllText(Path.ChangeExtension(path, ".txt")).Trim();
        var e = FuzzHarness.RunOne(FuzzHarness.Targets.Single(t => t.Name == target), File.ReadAllBytes(path));
        var data = Assert.IsType<DataException>(e);
        Assert.Contains(expected, data.Message, StringComparison.Ordinal);
    }
}
