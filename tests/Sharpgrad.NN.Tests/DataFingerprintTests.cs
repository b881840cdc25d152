using Sharpgrad.Workflows;
using System.Text.Json.Nodes;
using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>A moved dataset is accepted when its fingerprint matches the run's, and refused in one line when it does not.</summary>
public sealed class DataFingerprintTests
{
    private static readonly TrainOptions Quick = new() { Data = "mnist-idx", Limit = 256, TestLimit = 100, BatchSize = 16, Epochs = 1, Threads = 1 };

    private static readonly HashSet<string> MovedData = ["Epochs", "Data", "DataDir"];

    [Fact]
    public void AMovedDatasetWithTheSameFingerprintResumes()
    {
        using var f = new TestFiles();
        var old = f.MnistFolder("mnist", 40, 20);
        var t = TrainWorkflow.Create(Quick with { DataDir = old }, f.Path("run"));
        t.Run();
        var stored = TrainWorkflow.ReadCheckpoint(f.Path("run")).Data;
        Assert.Equal(t.Fingerprint, stored);
        Assert.Equal(t.Fingerprint!.ToString(), JsonNode.Parse(File.ReadAllText(f.Path("run", RunFiles.ModelJson)))!["data_fingerprint"]!.GetValue<string>());
        Assert.StartsWith("mnist-idx 40+20 images of 1x6x5, 10 classes, sha256 ", stored!.ToString());

        var moved = f.Path("elsewhere", "mnist");
        Directory.CreateDirectory(f.Path("elsewhere"));
        Directory.Move(old, moved);
        var e = Assert.Throws<OptionException>(() => TrainWorkflow.Create(Quick with { Epochs = 2 }, f.Path("run"), f.Path("run"), new HashSet<string> { "Epochs" }, false));
        Assert.Equal($"ResumeDir: the run's data folder {old} no longer exists; pass Data mnist-idx DIR with the folder it moved to (its fingerprint is checked against the run's).", e.Message);

        var resumed = TrainWorkflow.Create(Quick with { Epochs = 2, DataDir = moved }, f.Path("run"), f.Path("run"), MovedData, false);
        Assert.Equal([$"DataDir {old} -> {moved}", "Epochs 1 -> 2"], resumed.Changes.Select(c => c.ToString()));
        resumed.Run();
        Assert.Equal(moved, TrainWorkflow.ReadCheckpoint(f.Path("run")).Recipe.DataDir);
        Assert.Equal(stored, TrainWorkflow.ReadCheckpoint(f.Path("run")).Data);
    }

    [Fact]
    public void AnotherDatasetIsRefusedInOneLineNamingBothFolders()
    {
        using var f = new TestFiles();
        var old = f.MnistFolder("mnist", 40, 20);
        TrainWorkflow.Create(Quick with { DataDir = old }, f.Path("run")).Run();
        var before = File.ReadAllBytes(f.Path("run", RunFiles.Checkpoint));
        var stored = TrainWorkflow.ReadCheckpoint(f.Path("run")).Data!;

        var bigger = f.MnistFolder("bigger", 48, 20);
        var e = Assert.Throws<DataException>(() => TrainWorkflow.Create(Quick with { Epochs = 2, DataDir = bigger }, f.Path("run"), f.Path("run"), MovedData, false));
        Assert.StartsWith($"{bigger}: not the dataset the run in {f.Path("run")} was trained on in {old} (48+20 images, not 40+20; labels and sampled pixels sha256 ", e.Message);
        Assert.EndsWith("; give the folder that holds the run's dataset, or start a new run in another output folder.", e.Message);

        // the same counts and shape, other labels: only the hash tells
        var relabelled = f.MnistFolder("relabelled", 40, 20);
        File.WriteAllBytes(Path.Combine(relabelled, "train-labels-idx1-ubyte.gz"), TestFiles.Gzip(TestFiles.Idx([40], [.. Enumerable.Range(0, 40).Select(i => (byte)(i * 3 % 10))])));
        e = Assert.Throws<DataException>(() => TrainWorkflow.Create(Quick with { Epochs = 2, DataDir = relabelled }, f.Path("run"), f.Path("run"), MovedData, false));
        Assert.Matches(@"\(labels and sampled pixels sha256 [0-9a-f]{12}\.\.\., not " + stored.Sha256[..12] + @"\.\.\.\)", e.Message);

        // the run's own folder, changed in place
        File.Copy(Path.Combine(relabelled, "train-labels-idx1-ubyte.gz"), Path.Combine(old, "train-labels-idx1-ubyte.gz"), overwrite: true);
        e = Assert.Throws<DataException>(() => TrainWorkflow.Create(Quick with { Epochs = 2 }, f.Path("run"), f.Path("run"), new HashSet<string> { "Epochs" }, false));
        Assert.StartsWith($"{old}: the dataset changed since the run in {f.Path("run")} was trained on it (labels and sampled pixels sha256 ", e.Message);
        Assert.Equal(before, File.ReadAllBytes(f.Path("run", RunFiles.Checkpoint)));
    }

    [Fact]
    public void ARunWithoutAFingerprintStillResumesFromAMovedFolder()
    {
        using var f = new TestFiles();
        var old = f.MnistFolder("mnist", 40, 20);
        TrainWorkflow.Create(Quick with { DataDir = old }, f.Path("run")).Run();
        // a checkpoint as runs wrote it before they stored a fingerprint
        var path = f.Path("run", RunFiles.Checkpoint);
        var (tensors, meta) = SafeTensors.Read(path);
        var m = JsonNode.Parse(meta["sharpgrad"])!.AsObject();
        Assert.True(m.Remove("data_fingerprint"));
        SafeTensors.Write(path, tensors.Select(kv => (kv.Key, kv.Value)), new Dictionary<string, string> { ["sharpgrad"] = m.ToJsonString() });
        Assert.Null(TrainWorkflow.ReadCheckpoint(f.Path("run")).Data);

        var moved = f.Path("moved");
        Directory.Move(old, moved);
        var t = TrainWorkflow.Create(Quick with { Epochs = 2, DataDir = moved }, f.Path("run"), f.Path("run"), MovedData, false);
        t.Run();
        Assert.Equal(2, TrainWorkflow.ReadCheckpoint(f.Path("run")).Epoch);
        Assert.NotNull(TrainWorkflow.ReadCheckpoint(f.Path("run")).Data); // stored from now on
    }

    [Fact]
    public void AMalformedStoredFingerprintIsOneLineNamingTheField()
    {
        using var f = new TestFiles();
        TrainWorkflow.Create(Quick with { DataDir = f.MnistFolder("mnist", 40, 20) }, f.Path("run")).Run();
        var path = f.Path("run", RunFiles.Checkpoint);
        var (tensors, meta) = SafeTensors.Read(path);
        var m = JsonNode.Parse(meta["sharpgrad"])!.AsObject();
        m["data_fingerprint"] = 7;
        SafeTensors.Write(path, tensors.Select(kv => (kv.Key, kv.Value)), new Dictionary<string, string> { ["sharpgrad"] = m.ToJsonString() });
        var e = Assert.Throws<DataException>(() => TrainWorkflow.ReadCheckpoint(f.Path("run")));
        Assert.Equal($"{path}: \"data_fingerprint\" in the \"sharpgrad\" metadata must be the dataset's fingerprint (\"KIND TRAIN+TEST images of CxHxW, N classes, sha256 HEX\"), got 7.", e.Message);
    }

    [Fact]
    public void TheFingerprintRoundTripsAndSeesASampledPixel()
    {
        using var f = new TestFiles();
        var pair = MnistIdx.Load(f.MnistFolder("mnist", 40, 20), "mnist-idx");
        var a = DataFingerprint.Of("mnist-idx", pair);
        Assert.Equal(a, DataFingerprint.Of("mnist-idx", MnistIdx.Load(f.Path("mnist"), "mnist-idx")));
        Assert.Equal(a, DataFingerprint.Parse(a.ToString()));
        Assert.Null(DataFingerprint.Parse(a + "\n"));
        Assert.Null(DataFingerprint.Parse(a.ToString().Replace("sha256 ", "sha256 x", StringComparison.Ordinal)));
        Assert.Null(DataFingerprint.Parse("mnist-idx 99999999999+1 images of 1x6x5, 10 classes, sha256 " + a.Sha256));
        pair.Test.Pixels[^1] ^= 1; // every image of a split this small is sampled
        Assert.NotEqual(a.Sha256, DataFingerprint.Of("mnist-idx", pair).Sha256);
    }
}
