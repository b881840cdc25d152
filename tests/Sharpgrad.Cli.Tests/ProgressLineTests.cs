using Sharpgrad.NN;
using Spectre.Console;
using Xunit;

namespace Sharpgrad.Cli.Tests;

/// <summary>The live progress display at 40, 80 and 120 columns: every line fits, the fields go in the stated order.</summary>
public sealed class ProgressLineTests
{
    private static readonly ProgressFields Running = new(3, 15, 120, 469, 0.41234, 0.8512, 4200, TimeSpan.FromSeconds(95));

    [Theory]
    [InlineData(40, "epoch 3/15  loss 0.4123  acc 85.12%")]
    [InlineData(80, "epoch 3/15  step 120/469  ━━━━━━━━━━━━   25%  loss 0.4123  acc 85.12%  1:35 left")]
    [InlineData(120, "epoch 3/15  step 120/469  ━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━   25%  loss 0.4123  acc 85.12%  4,200 img/s  1:35 left")]
    public void ARunningEpochFitsTheWidth(int width, string expected) => Assert.Equal(expected, ProgressLine.Text(Running, width));

    [Fact]
    public void BeforeTheFirstStepTheLossIsADashNotNaN()
    {
        // the trainer reports step 0 with NaN loss and accuracy: once shown as "loss NaN  acc NaN%"
        var start = new ProgressFields(1, 1, 0, 4, double.NaN, double.NaN, 0, null);
        foreach (int width in new[] { 40, 80, 120 })
        {
            var text = ProgressLine.Text(start, width);
            Assert.StartsWith("epoch 1/1", text, StringComparison.Ordinal);
            Assert.Contains("loss -  acc -", text, StringComparison.Ordinal);
            Assert.DoesNotContain("NaN", text, StringComparison.Ordinal);
            Assert.True(text.Length <= width, text);
        }
    }

    [Fact]
    public void FieldsGoInTheStatedOrder()
    {
        // widest first: the bar shrinks, then img/s, time left, the step count, the bar and the percentage go
        string? previous = null;
        var dropped = new List<string>();
        for (int width = 130; width >= 30; width--)
        {
            var text = ProgressLine.Text(Running, width);
            Assert.True(text.Length <= width || width < 36, $"{width}: {text}");
            Assert.StartsWith("epoch 3/15", text);
            if (width >= 36) Assert.Contains("loss 0.4123  acc 85.12%", text);
            foreach (var field in new[] { "img/s", "left", "step", "━", "%  loss" })
                if (previous is not null && previous.Contains(field, StringComparison.Ordinal) && !text.Contains(field, StringComparison.Ordinal)) dropped.Add(field);
            previous = text;
        }
        Assert.Equal(["img/s", "left", "step", "━", "%  loss"], dropped);
    }

    [Theory]
    [InlineData(40, "epoch 2/15  test loss 0.4001 acc 86.00%")]
    [InlineData(80, "epoch 2/15  train loss 0.4123 acc 85.12%  test loss 0.4001 acc 86.00%  2.9 s")]
    [InlineData(120, "epoch 2/15  train loss 0.4123 acc 85.12%  test loss 0.4001 acc 86.00%  2.9 s")]
    public void AFinishedEpochFitsTheWidth(int width, string expected)
    {
        var done = Running with { Done = new EpochMetrics(2, 0.41234, 0.8512, 0.40012, 0.86, 2.94, 0.005) };
        Assert.Equal(expected, ProgressLine.Text(done, width));
    }

    /// <summary>The real Spectre display on a terminal of each width: after the last frame, no line is wider.</summary>
    [Theory]
    [InlineData(40)]
    [InlineData(80)]
    [InlineData(120)]
    public void TheLiveDisplayFitsTheTerminal(int width)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Interactive = InteractionSupport.Yes,
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.TrueColor,
        });
        console.Profile.Width = width;
        console.Profile.Height = 40;
        var line = new ProgressLineColumn();
        console.Progress().AutoClear(false).HideCompleted(false).Columns(line).Start(ctx =>
        {
            var observer = new TrainCommand.LiveObserver(ctx, line);
            for (int epoch = 1; epoch <= 2; epoch++)
            {
                observer.EpochStarted(epoch, 2, 10);
                for (int step = 1; step <= 10; step++) observer.StepCompleted(epoch, step, 10, 0.5, 0.8, 1234);
                observer.EpochCompleted(new EpochMetrics(epoch, 0.41234, 0.8512, 0.40012, 0.86, 2.94, 0.005));
            }
        });
        var visible = System.Text.RegularExpressions.Regex.Replace(writer.ToString(), @"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", "");
        var lines = visible.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        Assert.Contains(lines, l => l.Contains("epoch 2/2", StringComparison.Ordinal));
        Assert.All(lines, l => Assert.True(l.TrimEnd().Length <= width, $"{l.TrimEnd().Length} > {width}: {l}"));
    }
}
