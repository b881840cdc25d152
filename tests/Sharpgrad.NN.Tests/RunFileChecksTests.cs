using Sharpgrad.NN;
using Sharpgrad.Workflows;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>Damaged run folders and checkpoints: one line naming the file and the field, before anything large is allocated.</summary>
public sealed class RunFileChecksTests
{
    [Fact]
    public void BatchNormLoadsStateDictsWithoutTheCounterOrWithItAsShapeOne()
    {
        var source = ExamCnn.Create(1, 8, 8, 3, generator: new Generator(1));
        var state = source.StateDict().ToDictionary(s => s.Name, s => s.Value);
        Assert.Equal([], state["3.num_batches_tracked"].Shape);

        var target = ExamCnn.Create(1, 8, 8, 3, generator: new Generator(2));
        using (Tensor.NoGrad()) target.StateDict().Single(s => s.Name == "3.num_batches_tracked").Value.CopyFrom(Tensor.Scalar(5, DType.Float64));
        var without = state.Where(kv => kv.Key != "3.num_batches_tracked").ToDictionary();
        target.LoadStateDict(without);
        Assert.Equal([0.0], target.StateDict().Single(s => s.Name == "3.num_batches_tracked").Value.ToDoubleArray());
        Assert.Equal(source.StateDict()[0].Value.ToArray(), target.StateDict()[0].Value.ToArray());

        var shapeOne = new Dictionary<string, Tensor>(state) { ["3.num_batches_tracked"] = Tensor.FromArray(new double[] { 12 }, 1) };
        target.LoadStateDict(shapeOne);
        Assert.Equal([12.0], target.StateDict().Single(s => s.Name == "3.num_batches_tracked").Value.ToDoubleArray());

        // everything else stays strict, and a refused state_dict changes nothing
        var before = target.StateDict()[0].Value.ToArray();
        var missing = new Dictionary<string, Tensor>(state);
        missing.Remove("3.running_mean");
        missing["0.weight"] = Tensor.Zeros(state["0.weight"].Shape);
        Assert.Equal("LoadStateDict: missing tensor '3.running_mean' (shape [16]).", Assert.Throws<ArgumentException>(() => target.LoadStateDict(missing)).Message);
        Assert.Equal(before, target.StateDict()[0].Value.ToArray());
        var bias = new Dictionary<string, Tensor>(state) { ["8.bias"] = Tensor.Zeros([1]) };
        Assert.Equal("LoadStateDict: '8.bias' has shape [1], the model expects [3].", Assert.Throws<ArgumentException>(() => target.LoadStateDict(bias)).Message);
    }

    private static string RunFolder(TestFiles f, string name, Action<JsonObject>? edit = null, bool describe = false, int weightsSize = 8)
    {
        var dir = f.Path(name);
        Directory.CreateDirectory(dir);
        var model = ExamCnn.Create(1, 8, 8, 3, generator: new Generator(1));
        SafeTensors.Write(Path.Combine(dir, RunFiles.Weights), ExamCnn.Create(1, weightsSize, weightsSize, 3, generator: new Generator(1)).StateDict());
        var d = new JsonObject
        {
            ["format"] = "sharpgrad-run/1",
            ["architecture"] = "exam-cnn",
            ["input"] = new JsonArray(1, 8, 8),
            ["classes"] = new JsonArray("a", "b", "c"),
            ["normalization"] = new JsonObject { ["mean"] = new JsonArray(0.5), ["std"] = new JsonArray(0.25) },
            ["recipe"] = JsonSerializer.SerializeToNode(new TrainOptions(), RunFiles.Json),
        };
        if (describe) d["model"] = ModelSpec.Describe(model);
        edit?.Invoke(d);
        File.WriteAllText(Path.Combine(dir, RunFiles.ModelJson), d.ToJsonString());
        return dir;
    }

    private static string LoadError(string dir)
    {
        var message = Assert.Throws<DataException>(() => RunFiles.Load(dir)).Message;
        Assert.DoesNotContain('\n', message);
        return message;
    }

    [Fact]
    public void ModelJsonFieldsAreCheckedByName()
    {
        using var f = new TestFiles();
        Assert.Equal([1, 8, 8], RunFiles.Load(RunFolder(f, "good")).Input);
        Assert.Equal(3, RunFiles.Load(RunFolder(f, "described", describe: true)).Classes.Length);

        const string Input = "\"input\" must be [C, H, W], three sizes from 1 to 65536 with C*H*W at most 67108864, got ";
        var cases = new (Action<JsonObject> Edit, string Message)[]
        {
            (d => d["input"] = new JsonArray(2000000, 4, 4), Input + "[2000000,4,4]."),
            (d => d["input"] = new JsonArray(1, 65536, 65536), Input + "[1,65536,65536]."),
            (d => d["input"] = new JsonArray(0, 8, 8), Input + "[0,8,8]."),
            (d => d["input"] = new JsonArray(1, 8), Input + "[1,8]."),
            (d => d["input"] = new JsonArray(1, 8, 8.5), Input + "[1,8,8.5]."),
            (d => d["input"] = "1x8x8", Input + "\"1x8x8\"."),
            (d => d.Remove("input"), Input + "nothing."),
            (d => d["classes"] = new JsonArray(), "\"classes\" must be a non-empty array of class names, got []."),
            (d => d["classes"] = new JsonArray("a", null), "\"classes\" must be a non-empty array of class names, got [\"a\",null]."),
            (d => d["normalization"] = new JsonObject { ["mean"] = new JsonArray(0.5, 0.5), ["std"] = new JsonArray(0.25) },
                "\"normalization\" must be {\"mean\": [...], \"std\": [...]} with 1 finite means (one per channel), got {\"mean\":[0.5,0.5],\"std\":[0.25]}."),
            (d => d["normalization"] = new JsonObject { ["mean"] = new JsonArray(0.5), ["std"] = new JsonArray(0) },
                "\"normalization\" must be {\"mean\": [...], \"std\": [...]} with 1 positive finite standard deviations (one per channel), got {\"mean\":[0.5],\"std\":[0]}."),
            (d => d["recipe"] = "adamw", "\"recipe\" must be an object (the training options), got \"adamw\"."),
            (d => d["recipe"] = new JsonObject { ["Epochs"] = "many" }, "\"recipe\" must be the training options (The JSON value could not be converted"),
            (d => d["recipe"] = new JsonObject { ["Tta"] = "sideways" }, "\"recipe\" must be the training options with Tta none or flip (Tta is \"sideways\"), got {\"Tta\":\"sideways\"}."),
            (d => d["model"] = 5, "\"model\" must be the model's description (an object), got 5."),
            (d => d["architecture"] = 5, "\"architecture\" must be a string, got 5."),
            (d => d["dropout"] = 1.5, "\"dropout\" must be a probability in [0, 1), got 1.5."),
        };
        for (int i = 0; i < cases.Length; i++)
        {
            var dir = RunFolder(f, "bad" + i, cases[i].Edit);
            Assert.StartsWith(Path.Combine(dir, RunFiles.ModelJson) + ": " + cases[i].Message, LoadError(dir), StringComparison.Ordinal);
        }

        var notJson = RunFolder(f, "not-json");
        File.WriteAllText(Path.Combine(notJson, RunFiles.ModelJson), "{\"input\": [1, 8,");
        Assert.StartsWith(Path.Combine(notJson, RunFiles.ModelJson) + ": not valid JSON (", LoadError(notJson), StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(notJson, RunFiles.ModelJson), "{\"input\": [1, 8, 8], \"input\": [1, 8, 8]}");
        Assert.StartsWith(Path.Combine(notJson, RunFiles.ModelJson) + ": not valid JSON (Duplicate property 'input'", LoadError(notJson), StringComparison.Ordinal);

        var other = RunFolder(f, "other-weights", weightsSize: 12);
        Assert.Equal($"{Path.Combine(other, RunFiles.Weights)}: does not fit the model in model.json: LoadStateDict: '8.weight' has shape [3,144], the model expects [3,64].", LoadError(other));
    }

    [Fact]
    public void AHugeInputIsRefusedBeforeTheModelIsBuilt()
    {
        using var f = new TestFiles();
        var dir = RunFolder(f, "huge", d => d["input"] = new JsonArray(1, 65536, 1024));
        LoadError(dir); // warm up (JIT)
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal($"{Path.Combine(dir, RunFiles.ModelJson)}: \"input\" 1x65536x1024 and 3 classes need at least 201326592 weights in the exam CNN's last layer, but {Path.Combine(dir, RunFiles.Weights)} holds 2740 numbers in all.",
            LoadError(dir));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "refusing the folder allocated over 16 MB");
    }

    [Fact]
    public void CorruptCheckpointMetadataIsNamedByField()
    {
        using var f = new TestFiles();
        var recipe = new TrainOptions { Limit = 128, TestLimit = 50, BatchSize = 64, Schedule = "none", Epochs = 1 };
        TrainWorkflow.Create(recipe, f.Path("run")).Run();
        var (tensors, meta) = SafeTensors.Read(f.Path("run", RunFiles.Checkpoint));

        string Resume(string name, string? sharpgrad, Func<Dictionary<string, Tensor>, Dictionary<string, Tensor>>? editTensors = null)
        {
            var dir = f.Path(name);
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, RunFiles.Checkpoint);
            var t = editTensors?.Invoke(new Dictionary<string, Tensor>(tensors)) ?? tensors;
            SafeTensors.Write(path, t.Select(kv => (kv.Key, kv.Value)), sharpgrad is null ? null : new Dictionary<string, string> { ["sharpgrad"] = sharpgrad });
            var message = Assert.Throws<DataException>(() => TrainWorkflow.Create(recipe with { Epochs = 2 }, f.Path("out-" + name), resumeDir: dir)).Message;
            Assert.DoesNotContain('\n', message);
            Assert.StartsWith(path + ": ", message, StringComparison.Ordinal);
            Assert.False(Directory.Exists(f.Path("out-" + name)));
            return message[(path.Length + 2)..];
        }
        string Edited(Action<JsonObject> edit)
        {
            var m = JsonNode.Parse(meta["sharpgrad"])!.AsObject();
            edit(m);
            return m.ToJsonString();
        }

        const string In = " in the \"sharpgrad\" metadata must be ";
        Assert.Equal("checkpoint has no \"sharpgrad\" metadata (epoch, recipe, rng, metrics).", Resume("none", null));
        Assert.StartsWith("the \"sharpgrad\" metadata is not valid JSON (", Resume("not-json", "{\"epoch\": 1,"), StringComparison.Ordinal);
        Assert.Equal("the \"sharpgrad\" metadata is not a JSON object.", Resume("array", "[1]"));
        Assert.StartsWith("the \"sharpgrad\" metadata is not valid JSON (Duplicate property 'epoch'", Resume("duplicate", "{\"epoch\": 1, \"epoch\": 1}"), StringComparison.Ordinal);
        Assert.Equal("\"recipe\"" + In + "the training options (an object), got nothing.", Resume("no-recipe", Edited(m => m.Remove("recipe"))));
        Assert.Equal("\"recipe\"" + In + "the training options (an object), got null.", Resume("null-recipe", Edited(m => m["recipe"] = null)));
        Assert.StartsWith("\"recipe\" in the checkpoint's sharpgrad metadata is not valid: Optimizer: unknown optimizer 'lbfgs'",
            Resume("bad-recipe", Edited(m => m["recipe"]!["Optimizer"] = "lbfgs")), StringComparison.Ordinal);
        Assert.Equal("\"epoch\"" + In + "the number of epochs done, a non-negative integer, got nothing.", Resume("no-epoch", Edited(m => m.Remove("epoch"))));
        Assert.Equal("\"epoch\"" + In + "the number of epochs done, a non-negative integer, got -1.", Resume("negative-epoch", Edited(m => m["epoch"] = -1)));
        Assert.Equal("\"epoch\"" + In + "the number of epochs done, a non-negative integer, got null.", Resume("null-epoch", Edited(m => m["epoch"] = null)));
        Assert.Equal("\"epoch\"" + In + "the number of epochs done, a non-negative integer, got \"1\".", Resume("string-epoch", Edited(m => m["epoch"] = "1")));
        const string Rng = "\"rng\"" + In + "the random generator's state, 6 unsigned 64-bit integers as decimal strings, got ";
        Assert.StartsWith(Rng + "[\"", Resume("short-rng", Edited(m => m["rng"]!.AsArray().RemoveAt(5))), StringComparison.Ordinal);
        Assert.Equal(Rng + "nothing.", Resume("no-rng", Edited(m => m.Remove("rng"))));
        Assert.Equal(Rng + "[1,2,3,4,5,6].", Resume("number-rng", Edited(m => m["rng"] = new JsonArray(1, 2, 3, 4, 5, 6))));
        Assert.Equal(Rng + "[\"1\",\"2\",\"3\",\"4\",\"5\",\"-6\"].", Resume("negative-rng", Edited(m => m["rng"] = new JsonArray("1", "2", "3", "4", "5", "-6"))));
        Assert.Equal("\"metrics\"" + In + "an array of 1 per-epoch records (one per epoch done), got nothing.", Resume("no-metrics", Edited(m => m.Remove("metrics"))));
        Assert.Equal("\"metrics\"" + In + "an array of 1 per-epoch records (one per epoch done), got [].", Resume("few-metrics", Edited(m => m["metrics"] = new JsonArray())));
        Assert.StartsWith("\"metrics\"" + In + "per-epoch records with epoch, train and test loss and accuracy, seconds and lr (record 1 is not), got [{",
            Resume("bad-metrics", Edited(m => m["metrics"]![0]!.AsObject().Remove("TestLoss"))), StringComparison.Ordinal);
        Assert.Equal("\"model\"" + In + "the model's description (an object) or null, got 5.", Resume("bad-model", Edited(m => m["model"] = 5)));

        // the tensors are checked against the model and optimizer (after the data is loaded)
        Assert.StartsWith("the model's weights (\"model.*\") do not fit the checkpoint's model: LoadStateDict: missing tensor '0.weight'",
            Resume("no-weight", meta["sharpgrad"], t => { t.Remove("model.0.weight"); return t; }), StringComparison.Ordinal);
    }
}
