using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Sharpgrad.Lab;
using Spectre.Console;

namespace Sharpgrad.Cli;

/// <summary>`sharpgrad lab`: runs the exam's questions as experiments and writes the HTML report.</summary>
internal static class LabCommand
{
    public static Command Create()
    {
        var ids = new Argument<string[]>("questions") { Description = $"Questions to run: {string.Join(" ", LabRunner.ValidIds)} (default all).", Arity = ArgumentArity.ZeroOrMore };
        var outDir = new Option<string>("--out") { Description = "Report folder (replaced if it holds an earlier lab report).", DefaultValueFactory = _ => Path.Combine("runs", "lab") };
        var quick = new Option<bool>("--quick") { Description = "The short version of each experiment (about 10 s each at most)." };
        var seed = new Option<string>("--seed") { Description = "Seed of every random choice (a non-negative integer).", DefaultValueFactory = _ => "1" };
        var data = new Option<string?>("--data") { Description = "Fashion-MNIST folder (the four IDX files; default: the bundled copy)." };
        var cmd = new Command("lab", "Run the exam's questions as small seeded experiments and write an HTML report (index.html, one page per question, PNG plots, JSON numbers).")
        {
            ids, outDir, quick, seed, data,
        };
        // unknown options and bad values become one line and exit code 2, like every other bad input
        cmd.TreatUnmatchedTokensAsErrors = false;
        // Ctrl+C cancels the token: the experiment stops at its next step and the staging folder is removed
        cmd.SetAction((r, cancellation) => Task.Run(() => SharpgradCli.Guard(r.InvocationConfiguration.Error, () =>
        {
            var questions = r.GetValue(ids) ?? [];
            var unknownOption = r.UnmatchedTokens.Concat(questions).FirstOrDefault(q => q.StartsWith('-'));
            if (unknownOption is not null)
                throw new ArgumentException($"lab: unknown option '{unknownOption}'; expected questions ({string.Join(" ", LabRunner.ValidIds)}), --out DIR, --quick, --seed N, --data DIR.");
            questions = [.. questions, .. r.UnmatchedTokens];
            var seedText = r.GetValue(seed)!;
            if (!ulong.TryParse(seedText, NumberStyles.None, CultureInfo.InvariantCulture, out var seedValue))
                throw new ArgumentException($"--seed: expected a non-negative integer, got '{seedText}'.");
            var dataDir = r.GetValue(data);
            if (dataDir is not null && !Directory.Exists(dataDir))
                throw new ArgumentException($"--data: folder '{dataDir}' does not exist.");
            var selected = LabRunner.Select(questions); // unknown ids fail here, before anything runs
            try
            {
                return Run(selected.Select(e => e.Id), r.GetValue(outDir)!, r.GetValue(quick), seedValue, dataDir, r.InvocationConfiguration.Output, cancellation);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // the report folder (or the staging folder beside it) cannot be made or written
                throw new ArgumentException($"--out: cannot write the lab report to '{r.GetValue(outDir)}' ({e.Message.TrimEnd('.')}).", e);
            }
            catch (OperationCanceledException)
            {
                r.InvocationConfiguration.Error.WriteLine("error: lab: interrupted; the report folder was left as it was.");
                return 130;
            }
        }), CancellationToken.None));
        return cmd;
    }

    private static int Run(IEnumerable<string> ids, string outDir, bool quick, ulong seed, string? dataDir, TextWriter output, CancellationToken cancellation)
    {
        var console = SharpgradCli.ConsoleFor(output);
        var start = DateTime.UtcNow;
        // Ctrl+C or SIGTERM: stop at the experiment's next step and remove the staging folder instead of dying mid-write
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        void Stop(PosixSignalContext c)
        {
            c.Cancel = true;
            interrupt.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        var context = new LabContext
        {
            OutDir = outDir,
            Quick = quick,
            Seed = seed,
            DataDir = dataDir,
            Cancellation = interrupt.Token,
            Progress = new Lines(line => console.MarkupLine($"[grey]{(DateTime.UtcNow - start).TotalSeconds,6:F1}s[/] {Markup.Escape(line)}")),
        };
        var run = LabRunner.Run(ids, context);
        var table = new Table().Border(TableBorder.Simple).Title(quick ? "exam lab (quick)" : "exam lab");
        table.AddColumn("question");
        table.AddColumn("title");
        table.AddColumn(new TableColumn("checks").RightAligned());
        table.AddColumn("result");
        table.AddColumn(new TableColumn("time").RightAligned());
        foreach (var o in run.Outcomes)
        {
            var status = o.Error is not null ? "[red]error[/]" : o.Passed ? "[green]passed[/]" : "[red]FAILED[/]";
            table.AddRow(o.Experiment.Id, Markup.Escape(o.Experiment.Title), $"{o.Result.Checks.Count(c => c.Passed)}/{o.Result.Checks.Count}", status,
                o.Result.Seconds.ToString("F1", CultureInfo.InvariantCulture) + " s");
        }
        console.Write(table);
        foreach (var o in run.Outcomes)
        {
            if (o.Error is not null) console.MarkupLine($"[red]{o.Experiment.Id}: {Markup.Escape(o.Error.GetType().Name + ": " + o.Error.Message)}[/]");
            foreach (var c in o.Result.Checks.Where(c => !c.Passed))
                console.MarkupLine($"[red]{o.Experiment.Id}: {Markup.Escape(c.Name)}: expected {Markup.Escape(c.Expected)}, measured {Markup.Escape(c.Measured)}[/]");
        }
        console.MarkupLine($"{run.Outcomes.Count(o => o.Passed)} of {run.Outcomes.Count} questions passed in {run.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s; report: {Markup.Escape(Path.Combine(run.OutDir, "index.html"))}");
        return run.Passed ? 0 : 1;
    }

    /// <summary>Writes each progress line as it comes, on the experiment's thread (Progress&lt;T&gt; would post them out of order).</summary>
    private sealed class Lines(Action<string> write) : IProgress<string>
    {
        public void Report(string value) => write(value);
    }
}
