using Sharpgrad.Workflows;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace Sharpgrad.NN.Tests;

/// <summary>
/// A full disk and a read-only folder during a run: one line naming the file and what was kept, the old checkpoint
/// byte-identical, no temporary file left. The real faults use a small tmpfs (mount needs root and mount rights);
/// where mount is refused (a container), the same write fails through <see cref="SafeTensors.WriteFault"/> instead.
/// </summary>
public sealed class WriteFaultTests(ITestOutputHelper output)
{
    private static readonly TrainOptions Quick = new() { Limit = 256, TestLimit = 100, BatchSize = 64, Epochs = 1, Threads = 1 };

    [Theory]
    [InlineData("No space left on device")]
    [InlineData("Read-only file system")]
    public void AFailedCheckpointWriteIsOneLineAndKeepsTheOldCheckpoint(string error)
    {
        using var f = new TestFiles();
        InjectedCheckpointFault(f.Path("run"), error);
    }

    [Fact]
    public void AFullDiskStopsWithOneLineAndKeepsTheLastCheckpoint() =>
        // 200 KB hold the exam CNN's first checkpoint (about 125 KB with AdamW's state) but not a second one beside it
        OnTmpfs("200k", "No space left on device", disk =>
        {
            var run = Path.Combine(disk, "run");
            var checkpoint = Path.Combine(run, RunFiles.Checkpoint);
            var t = TrainWorkflow.Create(Quick with { Epochs = 3 }, run);
            byte[]? first = null;
            t.EpochWritten = (m, _) => first ??= File.ReadAllBytes(checkpoint);
            var e = Assert.Throws<DataException>(() => t.Run());
            Assert.StartsWith($"{checkpoint}: cannot write (No space left on device", e.Message);
            Assert.EndsWith("); the checkpoint after epoch 1 is unchanged.", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.NotNull(first);
            Assert.Equal(first, File.ReadAllBytes(checkpoint));
            Assert.Equal(1, TrainWorkflow.ReadCheckpoint(run).Epoch);
            Assert.DoesNotContain(Directory.GetFiles(run), p => RunFiles.IsTempFile(Path.GetFileName(p)));
        });

    [Fact]
    public void AReadOnlyFolderIsRefusedInOneLineAndTheCheckpointStays() =>
        OnTmpfs("4m", "Read-only file system", disk =>
        {
            var run = Path.Combine(disk, "run");
            TrainWorkflow.Create(Quick, run).Run();
            var before = File.ReadAllBytes(Path.Combine(run, RunFiles.Checkpoint));
            Assert.True(Mount(disk, "-o", "remount,ro", disk), $"mount -o remount,ro {disk} failed");
            var e = Assert.Throws<OptionException>(() => TrainWorkflow.Create(Quick with { Epochs = 2 }, run, run, new HashSet<string> { "Epochs" }, overwrite: false));
            Assert.StartsWith($"OutDir: {run} is not writable (Read-only file system", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            Assert.Equal(before, File.ReadAllBytes(Path.Combine(run, RunFiles.Checkpoint)));
            Assert.DoesNotContain(Directory.GetFiles(run), p => RunFiles.IsTempFile(Path.GetFileName(p)));
        });

    // runs `test` on a fresh tmpfs of `size`, unmounted after; where mount is refused, the checkpoint write fails with `error` instead
    private void OnTmpfs(string size, string error, Action<string> test)
    {
        using var f = new TestFiles();
        var disk = f.Path("disk");
        if (!Mount(disk, "-t", "tmpfs", "-o", "size=" + size, "tmpfs", disk))
        {
            output.WriteLine($"mount refused: \"{error}\" is injected");
            InjectedCheckpointFault(f.Path("run"), error);
            return;
        }
        output.WriteLine($"a {size} tmpfs on {disk}");
        try
        {
            test(disk);
        }
        finally
        {
            Unmount(disk);
        }
    }

    // a finished one-epoch run resumed to two epochs, whose checkpoint write fails with `error`
    private static void InjectedCheckpointFault(string run, string error)
    {
        TrainWorkflow.Create(Quick, run).Run();
        var checkpoint = Path.Combine(run, RunFiles.Checkpoint);
        var before = File.ReadAllBytes(checkpoint);
        var t = TrainWorkflow.Create(Quick with { Epochs = 2 }, run, run, new HashSet<string> { "Epochs" }, overwrite: false);
        string? tmp = null;
        SafeTensors.WriteFault.Value = path =>
        {
            tmp = path;
            Assert.True(File.Exists(path)); // the temporary file is half-written when the fault strikes
            throw new IOException(error);
        };
        DataException e;
        try
        {
            e = Assert.Throws<DataException>(() => t.Run());
        }
        finally
        {
            SafeTensors.WriteFault.Value = null;
        }
        Assert.Equal($"{checkpoint}: cannot write ({error}); the checkpoint after epoch 1 is unchanged.", e.Message);
        Assert.Equal(Path.Combine(run, $".{RunFiles.Checkpoint}.{Environment.ProcessId}.tmp"), tmp);
        Assert.Equal(before, File.ReadAllBytes(checkpoint));
        Assert.DoesNotContain(Directory.GetFiles(run), p => RunFiles.IsTempFile(Path.GetFileName(p)));
    }

    // runs mount with `args` (creating `dir` first); false where mount is missing or refused
    private static bool Mount(string dir, params string[] args)
    {
        Directory.CreateDirectory(dir);
        return Exec("mount", args);
    }

    private static void Unmount(string dir)
    {
        if (!Exec("umount", dir)) Exec("umount", "-l", dir);
    }

    private static bool Exec(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(psi)!;
            p.StandardOutput.ReadToEnd();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no such program
        }
    }
}
