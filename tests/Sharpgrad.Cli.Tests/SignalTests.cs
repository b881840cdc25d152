using Sharpgrad.Workflows;
using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit;

namespace Sharpgrad.Cli.Tests;

/// <summary>
/// Ctrl-C and SIGTERM sent to a real `sharpgrad train` process once its first epoch is done: the exit code, the
/// message naming the epoch, the checkpoint kept and the resume command, no temporary file, and a resume that finishes.
/// </summary>
[Collection("cli")]
public sealed partial class SignalTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sharpgrad-signal-" + Guid.NewGuid().ToString("N"));

    public SignalTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("INT", "SIGINT (Ctrl-C)", 130)]
    [InlineData("TERM", "SIGTERM", 143)]
    public async Task ASignalFinishesTheStepKeepsTheCheckpointAndSaysHowToResume(string signal, string named, int exitCode)
    {
        var run = Path.Combine(_root, "run-" + signal);
        // env (coreutils 8.31+) restores the signals' default action before it runs dotnet: a test run whose parent
        // ignores SIGINT (a script's `cmd &`, nohup) would otherwise pass that on, and the run would never see it
        var psi = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _root,
        };
        foreach (var a in new[] { "--default-signal=INT,TERM", Dotnet(), Path.Combine(AppContext.BaseDirectory, "Sharpgrad.Cli.dll"), "train", "--epochs", "40", "--limit", "512", "--test-limit", "100",
                     "--batch-size", "32", "--threads", "1", "--out", run })
            psi.ArgumentList.Add(a);
        using var p = new Process { StartInfo = psi };
        var firstEpoch = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();
        var errors = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.StartsWith("epoch 1/40", StringComparison.Ordinal)) firstEpoch.TrySetResult();
        };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (errors) errors.AppendLine(e.Data);
        };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            // the first epoch's line follows its checkpoint; the signal then lands in a later epoch
            var first = await Task.WhenAny(firstEpoch.Task, Task.Delay(TimeSpan.FromSeconds(120)));
            Assert.True(first == firstEpoch.Task, $"no epoch line within 120 s: {output}{errors}");
            // the shell's own kill: no procps needed
            using (var kill = Process.Start("sh", ["-c", $"kill -{signal} {p.Id}"]))
            {
                await kill.WaitForExitAsync();
                Assert.Equal(0, kill.ExitCode);
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await p.WaitForExitAsync(timeout.Token); // throws after 60 s; waits for the redirected streams to drain
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }

        string err = errors.ToString().Trim();
        Assert.True(exitCode == p.ExitCode, $"exit {p.ExitCode}: {output}{err}");
        var m = Interrupted().Match(err);
        Assert.True(m.Success, err);
        Assert.Equal(named, m.Groups["signal"].Value);
        int epoch = int.Parse(m.Groups["epoch"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(epoch >= 2, err);
        Assert.Equal($"interrupted by {named} in epoch {epoch}: the step was finished, nothing is half-written; kept the checkpoint after epoch {epoch - 1} in {run}; continue with: sharpgrad train --resume {run}", err);
        Assert.Empty(Directory.GetFiles(run, "*.tmp*", SearchOption.AllDirectories));
        var meta = JsonNode.Parse(Sharpgrad.NN.SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors")).Metadata["sharpgrad"])!;
        Assert.Equal(epoch - 1, meta["epoch"]!.GetValue<int>());
        Assert.False(File.Exists(Path.Combine(run, "model.json")));

        // the command the message gives, with a total that ends the run at the interrupted epoch
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SharpgradCli.Run(["train", "--resume", run, "--epochs", epoch.ToString(System.Globalization.CultureInfo.InvariantCulture)], o, e);
        Assert.True(code == 0, e.ToString());
        Assert.Contains($"resuming after epoch {epoch - 1}", o.ToString());
        Assert.True(File.Exists(Path.Combine(run, "model.json")));
        Assert.Equal(epoch + 1, File.ReadAllLines(Path.Combine(run, "metrics.csv")).Length);
    }

    [GeneratedRegex(@"^interrupted by (?<signal>SIGINT \(Ctrl-C\)|SIGTERM) in epoch (?<epoch>\d+):")]
    private static partial Regex Interrupted();

    /// <summary>The dotnet that runs these tests (dotnet test sets DOTNET_HOST_PATH for its children).</summary>
    private static string Dotnet() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
}
