using Sharpgrad.Workflows;
using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>Run folders that lose nothing: --out rules, stale temporary files, resume of a finished run, and what a resume may change.</summary>
public sealed class RunFolderTests
{
    private static readonly TrainOptions Quick = new() { Limit = 256, TestLimit = 100, BatchSize = 64, Epochs = 1, Threads = 1 };

    [Fact]
    public void OutFolderHoldingARunOrOtherFilesIsRefusedUnlessOverwrite()
    {
        using var f = new TestFiles();
        TrainWorkflow.Create(Quick, f.Path("run")).Run();
        var e = Assert.Throws<OptionException>(() => TrainWorkflow.Create(Quick, f.Path("run"), null, new HashSet<string>(), overwrite: false));
        Assert.Equal($"OutDir: {f.Path("run")} holds a finished run (model.json); pass Overwrite to replace it, or choose another folder.", e.Message);
        File.Delete(f.Path("run", RunFiles.ModelJson));
        e = Assert.Throws<OptionException>(() => TrainWorkflow.Create(Quick, f.Path("run"), null, new HashSet<string>(), overwrite: false));
        Assert.StartsWith($"OutDir: {f.Path("run")} holds an unfinished run (checkpoint.safetensors); continue it with ResumeDir", e.Message);
        Directory.CreateDirectory(f.Path("mine"));
        File.WriteAllText(f.Path("mine", "notes.txt"), "mine");
        e = Assert.Throws<OptionException>(() => TrainWorkflow.Create(Quick, f.Path("mine"), null, new HashSet<string>(), overwrite: false));
        Assert.Equal($"OutDir: {f.Path("mine")} holds files that are not a run's (notes.txt); choose a new or empty folder, or pass Overwrite.", e.Message);

        // --overwrite: the old run's files go before the first epoch, so an interrupted rerun never leaves the old model beside a new checkpoint
        var t = TrainWorkflow.Create(Quick with { Epochs = 2 }, f.Path("run"), null, new HashSet<string>(), overwrite: true);
        using var cancel = new CancellationTokenSource();
        t.EpochWritten = (_, _) => cancel.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => t.Run(cancel: cancel.Token));
        Assert.False(File.Exists(f.Path("run", RunFiles.Weights)));
        Assert.True(File.Exists(f.Path("run", RunFiles.Checkpoint)));
        Assert.Equal(2, File.ReadAllLines(f.Path("run", RunFiles.MetricsCsv)).Length); // metrics.csv follows every epoch
    }

    [Fact]
    public void UnwritableOutIsRefusedBeforeTheDataLoads()
    {
        using var f = new TestFiles();
        File.WriteAllText(f.Path("file"), "x");
        var e = Assert.Throws<OptionException>(() => TrainWorkflow.Create(Quick with { Data = "mnist-idx", DataDir = f.Path("missing") }, f.Path("file", "run"), null, new HashSet<string>(), false));
        Assert.StartsWith($"OutDir: {f.Path("file", "run")} is not writable (", e.Message);
        // a folder the check had to create is removed again
        TrainWorkflow.Create(Quick, f.Path("new", "run"), null, new HashSet<string>(), false);
        Assert.False(Directory.Exists(f.Path("new")));
    }

    [Fact]
    public void StaleTempFilesAreRemovedAndAFinishedRunIsRewrittenByteForByte()
    {
        using var f = new TestFiles();
        TrainWorkflow.Create(Quick, f.Path("run")).Run();
        var files = new[] { RunFiles.Weights, RunFiles.ModelJson, RunFiles.MetricsCsv }.ToDictionary(n => n, n => File.ReadAllBytes(f.Path("run", n)));
        // killed after the last checkpoint: the final files are missing and temporary files are left
        foreach (var n in files.Keys) File.Delete(f.Path("run", n));
        File.WriteAllText(f.Path("run", ".checkpoint.safetensors.4242.tmp"), "half");
        File.WriteAllText(f.Path("run", "model.json.4242.tmp"), "half");
        File.WriteAllText(f.Path("run", "loss.png.tmp.png"), "half");
        var t = TrainWorkflow.Create(Quick, f.Path("run"), f.Path("run"), new HashSet<string>(), overwrite: false);
        Assert.Equal(1, t.StartEpoch);
        t.Run();
        foreach (var (n, bytes) in files) Assert.Equal(bytes, File.ReadAllBytes(f.Path("run", n)));
        Assert.DoesNotContain(Directory.GetFiles(f.Path("run")), p => RunFiles.IsTempFile(Path.GetFileName(p)));
    }

    [Fact]
    public void ResumeAppliesWhatMayChangeAndRefusesTheRest()
    {
        using var f = new TestFiles();
        TrainWorkflow.Create(Quick, f.Path("run")).Run();
        var asked = Quick with { Epochs = 2, Lr = 0.001, BatchSize = 32, Seed = 5, Optimizer = "sgd", Threads = 1 };
        var e = Assert.Throws<OptionException>(() => TrainWorkflow.Create(asked, f.Path("run"), f.Path("run"), new HashSet<string> { "Epochs", "Lr", "BatchSize", "Seed", "Optimizer" }, false));
        // the library names its own properties; the command line renders them as flags
        Assert.StartsWith("ResumeDir: Optimizer (the run has adamw, asked sgd); Seed (the run has 0, asked 5) cannot change in a resumed run; drop them, or start a new run with OutDir (a resume may change only Epochs, Lr, Threads,", e.Message);
        Assert.StartsWith("--resume: --optimizer (the run has adamw, asked sgd); --seed (the run has 0, asked 5) cannot change in a resumed run; drop them, or start a new run with --out (a resume may change only --epochs, --lr,",
            e.Render(o => "--" + o.ToLowerInvariant().Replace("resumedir", "resume").Replace("outdir", "out")));
        // the run trained at its optimizer's default rate: asking for that rate is no change, another is shown against it
        var same = TrainWorkflow.Create(Quick with { Epochs = 2, Lr = 0.005 }, f.Path("run"), f.Path("run"), new HashSet<string> { "Epochs", "Lr" }, false);
        Assert.Equal(["Epochs 1 -> 2"], same.Changes.Select(c => c.ToString()));
        Assert.Null(same.Options.Lr);
        // the same values as the run's are no change
        var t = TrainWorkflow.Create(asked with { Seed = 0, Optimizer = "adamw" }, f.Path("run"), f.Path("run"), new HashSet<string> { "Epochs", "Lr", "BatchSize", "Seed", "Optimizer" }, false);
        Assert.Equal(["BatchSize 64 -> 32", "Epochs 1 -> 2", "Lr 0.005 -> 0.001"], t.Changes.Select(c => c.ToString()));
        Assert.Equal((2, 0.001, 32), (t.Options.Epochs, t.Options.Lr, t.Options.BatchSize));
        t.Run();
        var meta = SafeTensors.Read(f.Path("run", RunFiles.Checkpoint)).Metadata["sharpgrad"];
        Assert.Contains("\"resumed\":[\"BatchSize 64 -\\u003E 32\"", meta, StringComparison.Ordinal);
        Assert.Equal(32, TrainWorkflow.ReadCheckpoint(f.Path("run")).Recipe.BatchSize);
        // without the options, a resume keeps the run's recipe
        var again = TrainWorkflow.Create(Quick with { Epochs = 3 }, f.Path("run"), f.Path("run"), new HashSet<string> { "Epochs" }, false);
        Assert.Equal((0.001, 32), (again.Options.Lr, again.Options.BatchSize));
    }

    [Fact]
    public void AnEmaRunSavesTheAverageAndAResumeContinuesIt()
    {
        using var f = new TestFiles();
        var recipe = Quick with { Ema = 0.9, LabelSmoothing = 0.1, Schedule = "none" }; // one-cycle would depend on the total epochs
        TrainWorkflow.Create(recipe with { Epochs = 2 }, f.Path("straight")).Run();
        var checkpoint = SafeTensors.Read(f.Path("straight", RunFiles.Checkpoint)).Tensors;
        Assert.Equal(8.0, checkpoint["ema.n_averaged"].Item()); // 256 images in batches of 64, two epochs
        var saved = SafeTensors.Read(f.Path("straight", RunFiles.Weights)).Tensors;
        // model.safetensors holds the average, the checkpoint's model.* the trained weights
        Assert.Equal(checkpoint["ema.module.0.weight"].ToArray(), saved["0.weight"].ToArray());
        Assert.NotEqual(checkpoint["model.0.weight"].ToArray(), saved["0.weight"].ToArray());
        Assert.Equal(checkpoint["ema.module.3.running_var"].ToArray(), saved["3.running_var"].ToArray());

        // one epoch, then a resume to two: the average continues from the checkpoint's
        TrainWorkflow.Create(recipe, f.Path("resumed")).Run();
        TrainWorkflow.Create(recipe with { Epochs = 2 }, f.Path("resumed"), f.Path("resumed"), new HashSet<string> { "Epochs" }, false).Run();
        Assert.Equal(File.ReadAllBytes(f.Path("straight", RunFiles.Weights)), File.ReadAllBytes(f.Path("resumed", RunFiles.Weights)));

        // a checkpoint without the average cannot continue an EMA run
        var plain = SafeTensors.Read(f.Path("resumed", RunFiles.Checkpoint));
        SafeTensors.Write(f.Path("resumed", RunFiles.Checkpoint), plain.Tensors.Where(t => !t.Key.StartsWith("ema.", StringComparison.Ordinal)).Select(t => (t.Key, t.Value)),
            plain.Metadata);
        var e = Assert.Throws<DataException>(() => TrainWorkflow.Create(recipe with { Epochs = 3 }, f.Path("resumed"), f.Path("resumed"), new HashSet<string> { "Epochs" }, false));
        Assert.Contains("the weights' moving average (\"ema.*\") does not fit the model", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DataFolderIsStoredAbsolute()
    {
        using var f = new TestFiles();
        var data = f.MnistFolder("mnist", 40, 20);
        var relative = Path.GetRelativePath(Directory.GetCurrentDirectory(), data);
        Assert.False(Path.IsPathRooted(relative));
        var t = TrainWorkflow.Create(Quick with { Data = "mnist-idx", DataDir = relative }, f.Path("run"));
        Assert.Equal(data, t.Options.DataDir);
    }
}
