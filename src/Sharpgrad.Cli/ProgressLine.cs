using System.Collections.Concurrent;
using System.Globalization;
using Sharpgrad.NN;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Sharpgrad.Cli;

/// <summary>What one epoch's progress line shows; <see cref="Done"/> is set once the epoch's metrics are known.</summary>
internal sealed record ProgressFields(int Epoch, int Epochs, int Step, int Steps, double Loss, double Accuracy, double ImagesPerSecond, TimeSpan? Remaining, EpochMetrics? Done = null);

/// <summary>
/// One progress line that fits the terminal's width (from 40 columns up). A running epoch shows
/// <c>epoch 3/15  step 120/469  ━━━━━━━━━━  26%  loss 0.4123  acc 85.12%  4,200 img/s  0:35 left</c>; when that is too
/// wide the bar shrinks to 10 characters, then the fields go in this order: images per second, time left, the step
/// count, the bar, the percentage. The epoch, loss and accuracy always stay. A finished epoch's line drops its
/// seconds, then its train loss, then its train accuracy, then its test loss.
/// </summary>
internal static class ProgressLine
{
    private const int MaxBar = 40, MinBar = 10;
    private const string Gap = "  ";

    /// <summary>The line for <paramref name="f"/> in at most <paramref name="width"/> characters, as markup.</summary>
    public static string Markup(ProgressFields f, int width) => f.Done is { } m ? Spectre.Console.Markup.Escape(Finished(m, f.Epochs, width)) : Running(f, width);

    /// <summary>The visible text of <see cref="Markup"/>.</summary>
    public static string Text(ProgressFields f, int width) => Spectre.Console.Markup.Remove(Markup(f, width));

    private static string Running(ProgressFields f, int width)
    {
        var ic = CultureInfo.InvariantCulture;
        string epoch = string.Create(ic, $"epoch {f.Epoch}/{f.Epochs}");
        string step = string.Create(ic, $"step {f.Step}/{f.Steps}");
        double done = f.Steps > 0 ? Math.Clamp((double)f.Step / f.Steps, 0, 1) : 0;
        string percent = string.Create(ic, $"{(int)(done * 100),3}%");
        // before the first step there is no loss yet: a dash, not "NaN" (which reads as a diverged run)
        string metrics = double.IsNaN(f.Loss) && f.Step == 0 ? $"loss -{Gap}acc -"
            : string.Create(ic, $"loss {f.Loss:F4}{Gap}acc {SharpgradCli.Percent(f.Accuracy)}");
        string speed = string.Create(ic, $"{f.ImagesPerSecond:N0} img/s");
        string? left = f.Remaining is { } r ? $"{(int)r.TotalMinutes}:{r.Seconds:00} left" : null;
        // levels: 0 everything, 1 no img/s, 2 no time left, 3 no step count, 4 no bar, 5 no percentage
        for (int level = 0; level <= 5; level++)
        {
            var before = new List<string> { epoch };
            if (level < 3) before.Add(step);
            var after = new List<string>();
            if (level < 5) after.Add(percent);
            after.Add(metrics);
            if (level < 1) after.Add(speed);
            if (level < 2 && left is not null) after.Add(left);
            int fixedWidth = before.Sum(s => s.Length) + after.Sum(s => s.Length) + Gap.Length * (before.Count + after.Count - 1);
            if (level < 4)
            {
                int bar = Math.Min(MaxBar, width - fixedWidth - Gap.Length);
                if (bar < MinBar) continue;
                int full = (int)Math.Round(done * bar);
                string barMarkup = $"[green]{new string('━', full)}[/][grey]{new string('━', bar - full)}[/]";
                return Spectre.Console.Markup.Escape(string.Join(Gap, before)) + Gap + barMarkup + Gap + Spectre.Console.Markup.Escape(string.Join(Gap, after));
            }
            if (fixedWidth <= width) return Spectre.Console.Markup.Escape(string.Join(Gap, before.Concat(after)));
        }
        return Spectre.Console.Markup.Escape(Cut(epoch + Gap + metrics, width));
    }

    private static string Finished(EpochMetrics m, int epochs, int width)
    {
        var ic = CultureInfo.InvariantCulture;
        string epoch = string.Create(ic, $"epoch {m.Epoch}/{epochs}");
        string[] candidates =
        [
            string.Create(ic, $"{epoch}{Gap}train loss {m.TrainLoss:F4} acc {SharpgradCli.Percent(m.TrainAccuracy)}{Gap}test loss {m.TestLoss:F4} acc {SharpgradCli.Percent(m.TestAccuracy)}{Gap}{m.Seconds:F1} s"),
            string.Create(ic, $"{epoch}{Gap}train loss {m.TrainLoss:F4} acc {SharpgradCli.Percent(m.TrainAccuracy)}{Gap}test loss {m.TestLoss:F4} acc {SharpgradCli.Percent(m.TestAccuracy)}"),
            string.Create(ic, $"{epoch}{Gap}train acc {SharpgradCli.Percent(m.TrainAccuracy)}{Gap}test loss {m.TestLoss:F4} acc {SharpgradCli.Percent(m.TestAccuracy)}"),
            string.Create(ic, $"{epoch}{Gap}test loss {m.TestLoss:F4} acc {SharpgradCli.Percent(m.TestAccuracy)}"),
            string.Create(ic, $"{epoch}{Gap}test acc {SharpgradCli.Percent(m.TestAccuracy)}"),
        ];
        return candidates.FirstOrDefault(c => c.Length <= width) ?? Cut(candidates[^1], width);
    }

    private static string Cut(string s, int width) => s.Length <= width ? s : s[..Math.Max(0, width)];
}

/// <summary>The progress display's single column: each epoch's <see cref="ProgressLine"/>, as wide as the terminal.</summary>
internal sealed class ProgressLineColumn : ProgressColumn
{
    private readonly ConcurrentDictionary<int, ProgressFields> _fields = new();

    /// <summary>Sets what <paramref name="task"/>'s line shows.</summary>
    public void Set(ProgressTask task, ProgressFields fields) => _fields[task.Id] = fields;

    protected override bool NoWrap => true;

    // Spectre pads a column by one; one more keeps the cursor off the terminal's last column (no auto-wrap)
    private static int Width(RenderOptions options) => Math.Max(1, options.ConsoleSize.Width - 2);

    public override int? GetColumnWidth(RenderOptions options) => Width(options);

    public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
        _fields.TryGetValue(task.Id, out var f) ? new Markup(ProgressLine.Markup(f, Width(options))) : new Text("");
}
