using System.Diagnostics;
using System.Globalization;

namespace Sharpgrad.Lab;

/// <summary>One experiment of a lab run: what it measured, or the exception that stopped it.</summary>
/// <param name="Experiment">The question.</param>
/// <param name="Result">Its measurements (with <see cref="LabResult.Seconds"/> set); empty when it threw.</param>
/// <param name="Error">The exception the experiment threw, or null.</param>
public sealed record LabOutcome(LabExperiment Experiment, LabResult Result, Exception? Error)
{
    /// <summary>True when the experiment ran to the end, made at least one check, and every check passed.</summary>
    public bool Passed => Error is null && Result.Checks.Count > 0 && Result.Checks.All(c => c.Passed);
}

/// <summary>A finished lab run: the outcomes in question order and where the report is.</summary>
/// <param name="OutDir">The report folder (index.html, qN.html, qN.json, results.json, the PNG plots).</param>
/// <param name="Outcomes">One per question run, ordered by number.</param>
/// <param name="Seconds">Wall-clock seconds of the whole run, report included.</param>
public sealed record LabRunResult(string OutDir, IReadOnlyList<LabOutcome> Outcomes, double Seconds)
{
    /// <summary>True when every experiment passed all its checks.</summary>
    public bool Passed => Outcomes.All(o => o.Passed);
}

/// <summary>
/// Runs the exam lab: finds the experiments, runs the chosen ones in order of question number, times each, and writes
/// the HTML report (<see cref="LabReport"/>).
/// </summary>
public static class LabRunner
{
    private static readonly Lazy<IReadOnlyList<LabExperiment>> s_all = new(Discover);

    /// <summary>
    /// Every experiment in this assembly (public sealed non-abstract <see cref="LabExperiment"/> subclasses with a
    /// parameterless constructor), ordered by <see cref="LabExperiment.Number"/>.
    /// </summary>
    public static IReadOnlyList<LabExperiment> All => s_all.Value;

    /// <summary>The ids the runner accepts: "q1".."q10" for the experiments that exist, and "all".</summary>
    public static IReadOnlyList<string> ValidIds => [.. All.Select(e => e.Id), "all"];

    /// <summary>
    /// The experiments named by <paramref name="ids"/> ("q5", "Q5" or "5"; "all"), each once, in question order; no id
    /// at all means every experiment.
    /// </summary>
    /// <exception cref="ArgumentException">An id that names no experiment: one line listing the valid ids.</exception>
    public static IReadOnlyList<LabExperiment> Select(IEnumerable<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids.Select(i => (i ?? "").Trim()).ToList();
        if (list.Count == 0) return All;
        var chosen = new HashSet<LabExperiment>();
        foreach (var id in list)
        {
            if (id.Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                chosen.UnionWith(All);
                continue;
            }
            var key = id.StartsWith('q') || id.StartsWith('Q') ? id[1..] : id;
            var e = All.FirstOrDefault(x => x.Number.ToString(CultureInfo.InvariantCulture) == key);
            if (e is null)
                throw new ArgumentException($"lab: unknown question '{id}'; valid: {string.Join(", ", ValidIds)}.");
            chosen.Add(e);
        }
        return chosen.OrderBy(e => e.Number).ToList();
    }

    /// <summary>
    /// Runs the experiments <paramref name="ids"/> names (see <see cref="Select"/>) and writes the report to
    /// <paramref name="context"/>'s <see cref="LabContext.OutDir"/>. The experiments write into a staging folder beside
    /// it, which replaces the report folder only when everything is written, so an interrupted run leaves the previous
    /// report (or none) and no half one. An experiment that throws is recorded as failed, with its exception on its
    /// page; cancellation and data that cannot be loaded stop the run.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown id, or an OutDir that exists and is not a lab report folder.</exception>
    /// <exception cref="OperationCanceledException">The context's token was cancelled.</exception>
    public static LabRunResult Run(IEnumerable<string> ids, LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var experiments = Select(ids);
        if (experiments.Count == 0) throw new ArgumentException("lab: there are no experiments to run.");
        var outDir = Path.GetFullPath(context.OutDir);
        LabReport.CheckTarget(outDir);
        var total = Stopwatch.StartNew();
        var staging = LabReport.CreateStaging(outDir);
        try
        {
            var staged = context.WithOutDir(staging);
            var outcomes = new List<LabOutcome>();
            foreach (var e in experiments)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                staged.Report($"{e.Id}: {e.Title}");
                outcomes.Add(RunOne(e, staged));
                var o = outcomes[^1];
                staged.Report($"{e.Id}: {(o.Passed ? "passed" : "FAILED")} in {o.Result.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s");
            }
            LabReport.Write(staging, outcomes, staged);
            LabReport.Publish(staging, outDir);
            return new LabRunResult(outDir, outcomes, total.Elapsed.TotalSeconds);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private static LabOutcome RunOne(LabExperiment e, LabContext context)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            var r = e.Run(context) ?? throw new InvalidOperationException($"{e.Id}: Run returned null.");
            r.Seconds = sw.Elapsed.TotalSeconds;
            return new LabOutcome(e, r, null);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not Sharpgrad.NN.DataException and not OutOfMemoryException)
        {
            // recorded, not swallowed: the page shows the exception, the run fails
            return new LabOutcome(e, new LabResult { Seconds = sw.Elapsed.TotalSeconds }, ex);
        }
    }

    private static List<LabExperiment> Discover()
    {
        var all = typeof(LabExperiment).Assembly.GetTypes()
            .Where(t => t.IsPublic && t.IsSealed && !t.IsAbstract && t.IsSubclassOf(typeof(LabExperiment)) && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (LabExperiment)Activator.CreateInstance(t)!)
            .OrderBy(e => e.Number)
            .ToList();
        foreach (var g in all.GroupBy(e => e.Number).Where(g => g.Count() > 1))
            throw new InvalidOperationException($"lab: question {g.Key} has more than one experiment ({string.Join(", ", g.Select(e => e.GetType().Name))}).");
        return all;
    }
}
