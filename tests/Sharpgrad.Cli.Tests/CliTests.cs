using System.Buffers.Binary;
using Xunit;

namespace Sharpgrad.Cli.Tests;

[Collection("cli")] // one command at a time (each scopes its --threads to itself; training is CPU-bound)
public sealed class CliTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sharpgrad-cli-" + Guid.NewGuid().ToString("N"));

    public CliTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = SharpgradCli.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private string P(params string[] parts) => Path.Combine([_root, .. parts]);

    [Fact]
    public void SummaryPrintsTheExamTable()
    {
        var (code, output, _) = Run("summary");
        Assert.Equal(0, code);
        Assert.Contains("448 = (3*3*3 + 1) * 16", output);
        Assert.Contains("2320 = (16*3*3 + 1) * 16", output);
        Assert.Contains("10250 = 1024*10 + 10", output);
        Assert.Contains("Trainable parameters: 13,050", output);
        Assert.Contains("Non-trainable buffer values: 32", output);
        Assert.Contains("Trainable parameters: 10,362", Run("summary", "--input", "1x28x28").Out);
        var bad = Run("summary", "--input", "3x32");
        Assert.Equal(2, bad.Code);
        Assert.Equal("error: input shape '3x32' is not of the form CxHxW with positive sizes (e.g. 3x32x32).", bad.Err.Trim());
    }

    [Fact]
    public void SummaryOfAModelFileThatDoesNotTakeTheInputNamesTheFile()
    {
        File.WriteAllText(P("net.json"), """
            { "format": "sharpgrad-model/1", "model": { "type": "Sequential", "layers": [
              { "type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3 }, { "type": "Flatten" },
              { "type": "Linear", "in_features": 2704, "out_features": 10 } ] } }
            """);
        Assert.Contains("Trainable parameters: 27,090", Run("summary", "--model", P("net.json"), "--input", "1x28x28").Out);
        var bad = Run("summary", "--model", P("net.json"), "--input", "3x28x28");
        Assert.Equal(2, bad.Code);
        Assert.StartsWith($"error: --model: {P("net.json")} does not take --input 3x28x28: layer 0 (Conv2d) cannot take input [1,3,28,28]: Conv2d: input channels differ (3 vs 1)", bad.Err.Trim());
        Assert.Single(bad.Err.Trim().Split('\n'));
        var untyped = Run("summary", "--model", P("net.json")); // the default 3x32x32, which the user never typed
        Assert.StartsWith($"error: --model: {P("net.json")} does not take the default --input 3x32x32 (pass --input CxHxW with the shape it takes, e.g. 1x28x28): layer 0 (Conv2d)", untyped.Err.Trim());
    }

    [Fact]
    public void TrainWritesEverythingAndEvalReadsItBack()
    {
        var (code, output, err) = Run("train", "--epochs", "1", "--limit", "512", "--test-limit", "300", "--batch-size", "64", "--out", P("run"));
        Assert.True(code == 0, err);
        Assert.Contains("epoch 1/1  train loss", output);
        foreach (var f in new[] { "model.safetensors", "model.json", "metrics.csv", "checkpoint.safetensors", "loss.png", "accuracy.png", "confusion.png" })
            Assert.True(File.Exists(P("run", f)), f);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(P("run", "loss.png"))[..4]);
        Assert.Empty(Directory.GetFiles(P("run"), "*.tmp*"));

        var ev = Run("eval", "--checkpoint", P("run"));
        Assert.True(ev.Code == 0, ev.Err);
        Assert.Contains("test accuracy", ev.Out);
        Assert.Contains("9 Ankle boot", ev.Out);
        Assert.Contains("confusion matrix", ev.Out);

        // an input shape the model cannot take: CIFAR-shaped images for a 1x28x28 model
        Directory.CreateDirectory(P("cifar"));
        foreach (var f in new[] { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin" })
            File.WriteAllBytes(P("cifar", f), new byte[3073 * 2]);
        var shape = Run("eval", "--checkpoint", P("run"), "--data", "cifar10", P("cifar"));
        Assert.Equal(2, shape.Code);
        Assert.Equal("error: --data: cifar10 images are 3x32x32 but the model takes 1x28x28.", shape.Err.Trim());

        var resumed = Run("train", "--resume", P("run"), "--epochs", "2");
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("resuming after epoch 1", resumed.Out);
        Assert.Contains("epoch 2/2", resumed.Out);
    }

    /// <summary>A synthetic CIFAR-10 set: 5 x 64 training and 64 test images of random bytes, labels 0-9.</summary>
    private string SyntheticCifar()
    {
        var dir = P("cifar-synthetic");
        Directory.CreateDirectory(dir);
        var rng = new Random(5);
        foreach (var f in new[] { "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin" })
        {
            var bytes = new byte[3073 * 64];
            rng.NextBytes(bytes);
            for (int i = 0; i < 64; i++) bytes[i * 3073] = (byte)(i % 10);
            File.WriteAllBytes(Path.Combine(dir, f), bytes);
        }
        return dir;
    }

    public static TheoryData<string> ModelsAndSpec() => [.. Sharpgrad.NN.Models.Names, "spec"];

    /// <summary>
    /// Every built-in model and a model file (3-channel copy of examples/models/tiny-residual.json): train, eval,
    /// summary, inspect and prune on a small synthetic 3x32x32 set, and the run folder rebuilds the same model.
    /// </summary>
    [Theory]
    [MemberData(nameof(ModelsAndSpec))]
    public void EveryCommandWorksOnEveryModel(string model)
    {
        var data = SyntheticCifar();
        if (model == "spec")
        {
            var text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "tiny-residual.json"))
                .Replace("\"in_channels\": 1,", "\"in_channels\": 3,", StringComparison.Ordinal);
            model = P("tiny.json");
            File.WriteAllText(model, text);
        }
        var (code, output, err) = Run("train", "--model", model, "--data", "cifar10", data, "--epochs", "1", "--batch-size", "32", "--out", P("run"));
        Assert.True(code == 0, err);
        Assert.Contains("epoch 1/1  train loss", output);
        var ev = Run("eval", "--checkpoint", P("run"));
        Assert.True(ev.Code == 0, ev.Err);
        Assert.Contains("test accuracy", ev.Out);
        var sum = Run("summary", "--model", model, "--input", "3x32x32");
        Assert.True(sum.Code == 0, sum.Err);
        var loaded = Sharpgrad.Workflows.RunFiles.Load(P("run"));
        Assert.Contains($"Trainable parameters: {loaded.Model.ParameterCount():N0}", sum.Out);
        var ins = Run("inspect", "--checkpoint", P("run"));
        Assert.True(ins.Code == 0, ins.Err);
        var pr = Run("prune", "--checkpoint", P("run"), "--sparsity", "0.5", "--finetune-epochs", "0.2", "--batch-size", "32", "--out", P("pruned"));
        Assert.True(pr.Code == 0, pr.Err);
        var evp = Run("eval", "--checkpoint", P("pruned"));
        Assert.True(evp.Code == 0, evp.Err);
        Assert.Matches(@"sparsity: (5\d\.\d)% of the", evp.Out); // 50% pruned, plus any weight the fine-tuning left at exactly zero
        var resumed = Run("train", "--resume", P("run"), "--epochs", "2");
        Assert.True(resumed.Code == 0, resumed.Err);
        if (model != "mlp") return;
        var other = Run("train", "--resume", P("run"), "--model", "resnet8", "--epochs", "3");
        Assert.Equal(2, other.Code);
        Assert.Contains("--model: a resumed run keeps the model its checkpoint describes", other.Err);
        var json = P("run", "model.json");
        File.WriteAllText(json, File.ReadAllText(json).Replace("sharpgrad-run/2", "sharpgrad-run/9", StringComparison.Ordinal));
        var future = Run("eval", "--checkpoint", P("run"));
        Assert.Equal(2, future.Code);
        Assert.Contains("\"format\" must be \"sharpgrad-run/1\" or \"sharpgrad-run/2\"", future.Err);
    }

    [Fact]
    public void AModelThatDoesNotFitTheDataIsRefusedBeforeAnythingIsWritten()
    {
        var data = SyntheticCifar();
        File.Copy(Path.Combine(AppContext.BaseDirectory, "tiny-residual.json"), P("gray.json"));
        var (code, _, err) = Run("train", "--model", P("gray.json"), "--data", "cifar10", data, "--out", P("out"));
        Assert.Equal(2, code);
        Assert.Contains("gray.json: layer 0 (Conv2d) does not fit the data's 3x32x32 images (its input is [1,3,32,32]): Conv2d: input channels differ (3 vs 1)", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(P("out")));
        var unknown = Run("train", "--model", "resnet99", "--out", P("out"));
        Assert.Equal(2, unknown.Code);
        Assert.Contains("--model: 'resnet99' is neither a built-in model (exam-cnn, mlp, lenet5, resnet8, resnet20, mobilenet, cnn3) nor a model file", unknown.Err);
        File.WriteAllText(P("nested.json"), """{"format":"sharpgrad-model/1","model":{"type":"Sequential","layers":[{"type":"Conv2d","in_channels":3,"out_channels":8,"kernel_size":3,"padding":1},{"type":"Residual","body":{"type":"Sequential","layers":[{"type":"Conv2d","in_channels":8,"out_channels":8,"kernel_size":1},{"type":"Conv2d","in_channels":4,"out_channels":8,"kernel_size":1}]}},{"type":"Flatten"},{"type":"Linear","in_features":8192,"out_features":10}]}}""");
        var nested = Run("train", "--model", P("nested.json"), "--data", "cifar10", data, "--out", P("out"));
        Assert.Equal(2, nested.Code);
        Assert.Contains("nested.json: layer 1.body.1 (Conv2d) does not fit the data's 3x32x32 images (its input is [1,8,32,32])", nested.Err);
        Assert.False(Directory.Exists(P("out")));
        File.WriteAllText(P("bad.json"), """{"format":"sharpgrad-model/1","model":{"type":"Sequential","layers":[{"type":"Linear","in_features":3072}]}}""");
        var bad = Run("train", "--model", P("bad.json"), "--data", "cifar10", data, "--out", P("out"));
        Assert.Equal(2, bad.Code);
        Assert.Contains("bad.json: layer 0 (Linear): missing \"out_features\" (an integer).", bad.Err);
        Assert.False(Directory.Exists(P("out")));
    }

    [Fact]
    public void PruneSweepAndInspect()
    {
        Assert.Equal(0, Run("train", "--epochs", "1", "--limit", "1024", "--test-limit", "500", "--out", P("run")).Code);
        var (code, output, err) = Run("prune", "--checkpoint", P("run"), "--sparsity", "0.8", "--method", "sensitivity", "--finetune-epochs", "0.1", "--out", P("pruned"));
        Assert.True(code == 0, err);
        Assert.Contains("chosen rates: 0.weight", output);
        Assert.Contains("after pruning", output);
        foreach (var f in new[] { "model.safetensors", "model.json", "sparsity.txt", "sensitivity.csv", "sensitivity.png" })
            Assert.True(File.Exists(P("pruned", f)), f);
        var ev = Run("eval", "--checkpoint", P("pruned"));
        Assert.True(ev.Code == 0, ev.Err);
        Assert.Contains("sparsity: 80.0% of the 10,288 Conv2d and Linear weights are zero", ev.Out);
        var ins = Run("inspect", "--checkpoint", P("pruned"));
        Assert.True(ins.Code == 0, ins.Err);
        Assert.True(File.Exists(P("pruned", "weights.png")));
        var sweep = Run("prune", "--checkpoint", P("run"), "--sweep");
        Assert.True(sweep.Code == 0, sweep.Err);
        Assert.Contains("each layer pruned alone", sweep.Out);
        Assert.True(File.Exists(P("run", "sensitivity.png")));
        Assert.Contains("--sparsity: required when pruning", Run("prune", "--checkpoint", P("run"), "--out", P("x")).Err);
        Assert.Contains("--method: unknown method 'best'", Run("prune", "--checkpoint", P("run"), "--sparsity", "0.5", "--method", "best", "--out", P("x")).Err);
        // another training run's folder is refused (its model would be replaced beside its own checkpoint), untouched
        Directory.CreateDirectory(P("other"));
        File.WriteAllText(P("other", "checkpoint.safetensors"), "mine");
        var clobber = Run("prune", "--checkpoint", P("run"), "--sparsity", "0.5", "--out", P("other"));
        Assert.Equal(2, clobber.Code);
        Assert.Equal($"error: --out: {P("other")} holds a training run (checkpoint.safetensors), whose model the pruned one would replace; choose another folder.", clobber.Err.Trim());
        Assert.Equal(["checkpoint.safetensors"], Directory.GetFiles(P("other")).Select(Path.GetFileName));
        Assert.False(Directory.Exists(P("x")));
    }

    [Fact]
    public void BadInputGivesOneLineNonZeroExitAndNoOutput()
    {
        var idx = P("idx");
        Directory.CreateDirectory(idx);
        var img = new byte[16 + 4 * 28 * 28];
        img[2] = 8;
        img[3] = 3;
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(4), 4);
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(img.AsSpan(12), 28);
        File.WriteAllBytes(Path.Combine(idx, "train-images-idx3-ubyte"), img[..^10]);
        File.WriteAllBytes(Path.Combine(idx, "train-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4]);
        File.WriteAllBytes(Path.Combine(idx, "t10k-images-idx3-ubyte"), img);
        File.WriteAllBytes(Path.Combine(idx, "t10k-labels-idx1-ubyte"), [0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4]);
        Directory.CreateDirectory(P("cifar"));
        File.WriteAllBytes(P("cifar", "data_batch_1.bin"), new byte[3073 * 2 + 1]);

        (string[] Args, string Expected)[] cases =
        [
            (["--data", "mnist-idx", P("nowhere")], "data folder not found"),
            (["--data", "mnist-idx", idx], "IDX data is truncated"),
            (["--data", "cifar10", P("cifar")], "is not a positive multiple of 3073"),
            (["--data", "folder", P("nowhere")], "image folder not found"),
            (["--optimizer", "lbfgs"], "--optimizer: unknown optimizer 'lbfgs'"),
            (["--schedule", "linear"], "--schedule: unknown schedule 'linear'"),
            (["--batch-size", "0"], "--batch-size: expected a positive number, got 0"),
            (["--ema", "1"], "--ema: expected a decay in [0, 1) (0: none; e.g. 0.999), got 1"),
            (["--label-smoothing", "1.5"], "--label-smoothing: expected a number in [0, 1] (0: none; e.g. 0.1), got 1.5"),
            (["--tta", "mirror"], "--tta: expected none or flip, got \"mirror\""),
            (["--resume", P("nowhere")], "no checkpoint to resume from"),
        ];
        foreach (var (args, expected) in cases)
        {
            var (code, _, err) = Run(["train", "--out", P("out"), .. args]);
            Assert.NotEqual(0, code);
            Assert.Contains(expected, err);
            Assert.Single(err.Trim().Split('\n'));
            Assert.False(Directory.Exists(P("out")), string.Join(" ", args));
        }
        var evalErr = Run("eval", "--checkpoint", P("nowhere"));
        Assert.Equal(2, evalErr.Code);
        Assert.Contains("run folder not found", evalErr.Err);
        Assert.NotEqual(0, Run("train", "--epochs", "many").Code);
    }

    [Theory]
    [InlineData("train --epochs --limit 256", "error: --epochs: missing value (the next word, '--limit', is an option); expected e.g. --epochs 15 (a whole number).")]
    [InlineData("train --epochs abc", "error: --epochs: 'abc' is not a whole number; expected e.g. --epochs 15 (a whole number).")]
    [InlineData("train --lr fast", "error: --lr: 'fast' is not a number; expected e.g. --lr 0.5 (a number).")]
    [InlineData("train --seed -1", "error: --seed: '-1' is not a whole number from 0 up; expected e.g. --seed 0 (a whole number from 0 up).")]
    [InlineData("train --epoch 3", "error: --epoch: unknown option for `sharpgrad train`; did you mean --epochs? `sharpgrad train --help` lists the options.")]
    [InlineData("train --optimizer", "error: --optimizer: missing value; expected --optimizer sgd | rmsprop | adam | adamw.")]
    [InlineData("train 15", "error: '15': unexpected word for `sharpgrad train` (every value follows its option, e.g. --epochs 15); `sharpgrad train --help` lists the options.")]
    [InlineData("summary cnn3", "error: 'cnn3': unexpected word for `sharpgrad summary` (every value follows its option, e.g. --classes 10); `sharpgrad summary --help` lists the options.")]
    [InlineData("eval", "error: eval: give either --checkpoint RUN or --model FILE.onnx.")]
    [InlineData("trian", "error: 'trian': unknown command; expected one of summary, train, eval, prune, inspect, export, lab (did you mean train?); `sharpgrad --help` describes them.")]
    [InlineData("", "error: no command given; expected one of summary, train, eval, prune, inspect, export, lab (`sharpgrad --help` describes them).")]
    [InlineData("summary --input 32x32x3", "error: input shape '32x32x3' reads as 32 channels of 32x3 pixels; the order is CxHxW, channels first: did you mean 3x32x32?")]
    [InlineData("summary --model cnn3 --input 1x28x28 --classes 2000000000", "error: --model cnn3 --input 1x28x28 --classes 2000000000: Tensor: shape [2000000000,576] has 1152000000000 elements, more than 2147483647.")]
    [InlineData("summary --model cnn3 --input 1x4x4", "error: --model cnn3 --input 1x4x4 --classes 10: cnn3: input 1x4x4 is too small; expected at least 8x8 pixels.")]
    [InlineData("train --augment bogus", "error: --augment: unknown augmentation 'bogus'; expected none, flip, crop or flip,crop.")]
    public void AParseErrorIsOneLineNamingTheOptionTheValueAndTheForm(string args, string expected)
    {
        var (code, output, err) = Run(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal(expected, err.Trim());
        Assert.DoesNotContain("System.", err);
    }

    [Theory]
    [InlineData("train", "--out", "error: --out: the value is empty; expected --out VALUE (")]
    [InlineData("train", "--data", "error: --data: the value is empty; expected --data ")]
    [InlineData("eval", "--model", "error: --model: the value is empty; expected --model VALUE (")]
    [InlineData("inspect", "--checkpoint", "error: --checkpoint: the value is empty; expected --checkpoint RUN_FOLDER (")]
    [InlineData("export", "--out", "error: --out: the value is empty; expected --out VALUE (")]
    [InlineData("lab", "--out", "error: --out: the value is empty; expected --out VALUE (")]
    public void AnEmptyValueIsOneLineNamingTheOption(string command, string option, string expected)
    {
        // '' from a shell script whose variable was unset: once "The value cannot be an empty string." naming nothing
        var args = command == "export" ? new[] { command, "--checkpoint", "run", option, "" } : [command, option, ""];
        var (code, output, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith(expected, err, StringComparison.Ordinal);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.DoesNotContain("System.", err);
    }

    [Fact]
    public void HelpNamesTheCommandSharpgrad()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("sharpgrad [command] [options]", output);
        Assert.Contains("sharpgrad train [options]", Run("train", "--help").Out);
    }

    [Fact]
    public void CheckpointTakesARunFolderOrAFileInIt()
    {
        Assert.Equal(0, Run("train", "--epochs", "1", "--limit", "128", "--test-limit", "100", "--batch-size", "64", "--out", P("run")).Code);
        var ev = Run("eval", "--checkpoint", P("run", "checkpoint.safetensors"), "--threads", "1");
        Assert.True(ev.Code == 0, ev.Err);
        Assert.Contains("test accuracy", ev.Out);
        File.WriteAllText(P("loose.safetensors"), "");
        var bad = Run("eval", "--checkpoint", P("loose.safetensors"));
        Assert.Equal(2, bad.Code);
        Assert.Equal($"error: --checkpoint: {P("loose.safetensors")} is a file, and its folder holds no model.json; pass the run folder that sharpgrad train wrote (the one with model.json and model.safetensors), e.g. --checkpoint runs/fashion-mnist-20260101-120000.", bad.Err.Trim());

        // a run stopped after its checkpoint but before its final files: eval says it is unfinished and how to finish it
        File.Delete(P("run", "model.json"));
        File.Delete(P("run", "model.safetensors"));
        var unfinished = Run("eval", "--checkpoint", P("run"));
        Assert.Equal(2, unfinished.Code);
        Assert.Equal($"error: {P("run", "model.json")}: not found: {P("run")} holds an unfinished run (checkpoint.safetensors without model.json, which is written last); resume the run to finish it and write model.json and model.safetensors.", unfinished.Err.Trim());
        var file = Run("eval", "--checkpoint", P("run", "checkpoint.safetensors"));
        Assert.Equal(2, file.Code);
        Assert.Equal($"error: --checkpoint: {P("run", "checkpoint.safetensors")} is in an unfinished run (checkpoint.safetensors without model.json, which is written last); finish it with sharpgrad train --resume {P("run")}, then pass that folder.", file.Err.Trim());
        var finish = Run("train", "--resume", P("run"));
        Assert.True(finish.Code == 0, finish.Err);
        Assert.Equal(0, Run("eval", "--checkpoint", P("run", "checkpoint.safetensors"), "--threads", "1").Code);
    }

    [Fact]
    public void RunFolderRulesAreOneLine()
    {
        Assert.Equal(0, Run("train", "--epochs", "1", "--limit", "256", "--test-limit", "100", "--out", P("run")).Code);
        var again = Run("train", "--epochs", "1", "--limit", "256", "--test-limit", "100", "--out", P("run"));
        Assert.Equal(2, again.Code);
        Assert.Equal($"error: --out: {P("run")} holds a finished run (model.json); pass --overwrite to replace it, or choose another folder.", again.Err.Trim());
        var refused = Run("train", "--resume", P("run"), "--seed", "4", "--epochs", "2");
        Assert.Equal(2, refused.Code);
        Assert.StartsWith("error: --resume: --seed (the run has 0, asked 4) cannot change in a resumed run", refused.Err.Trim());
        Assert.Single(refused.Err.Trim().Split('\n'));
        var changed = Run("train", "--resume", P("run"), "--lr", "0.002", "--epochs", "2");
        Assert.True(changed.Code == 0, changed.Err);
        Assert.Contains("resume changes: --epochs 1 -> 2, --lr 0.005 -> 0.002", changed.Out);
        var over = Run("train", "--epochs", "1", "--limit", "256", "--test-limit", "100", "--out", P("run"), "--overwrite");
        Assert.True(over.Code == 0, over.Err);
        Assert.Equal(2, File.ReadAllLines(P("run", "metrics.csv")).Length);

        // prune: an unwritable --out is one line before any work
        File.WriteAllText(P("file"), "x");
        var pr = Run("prune", "--checkpoint", P("run"), "--sparsity", "0.5", "--out", P("file", "pruned"));
        Assert.Equal(2, pr.Code);
        Assert.StartsWith($"error: --out: {P("file", "pruned")} is not writable (", pr.Err.Trim());
        Assert.Empty(pr.Out);

        // eval with NaN weights: an error, not a 10% accuracy
        var st = Sharpgrad.NN.SafeTensors.Read(P("run", "model.safetensors")).Tensors;
        var w = st["0.weight"].ToDoubleArray();
        Array.Fill(w, double.NaN);
        st["0.weight"] = Sharpgrad.Tensor.FromArray(w.Select(v => (float)v).ToArray(), st["0.weight"].Shape.ToArray());
        Sharpgrad.NN.SafeTensors.Write(P("run", "model.safetensors"), st.Select(kv => (kv.Key, kv.Value)));
        var ev = Run("eval", "--checkpoint", P("run"));
        Assert.Equal(2, ev.Code);
        Assert.Contains("the test loss is NaN", ev.Err);
    }

    [Fact]
    public void AMovedDatasetIsFoundByItsFingerprint()
    {
        var data = SyntheticCifar();
        var train = Run("train", "--data", "cifar10", data, "--epochs", "1", "--batch-size", "64", "--threads", "1", "--out", P("run"));
        Assert.True(train.Code == 0, train.Err);
        var moved = P("moved-cifar");
        Directory.Move(data, moved);

        var ev = Run("eval", "--checkpoint", P("run"), "--threads", "1");
        Assert.Equal(2, ev.Code);
        Assert.Equal($"error: --data: the run's data folder {data} no longer exists; pass --data cifar10 DIR with the folder it moved to.", ev.Err.Trim());
        ev = Run("eval", "--checkpoint", P("run"), "--data", "cifar10", moved, "--threads", "1");
        Assert.True(ev.Code == 0, ev.Err);
        Assert.StartsWith($"data: {moved} holds the dataset the run was trained on in {data} (same fingerprint)", ev.Out);

        var resume = Run("train", "--resume", P("run"), "--epochs", "2");
        Assert.Equal(2, resume.Code);
        Assert.Equal($"error: --resume: the run's data folder {data} no longer exists; pass --data cifar10 DIR with the folder it moved to (its fingerprint is checked against the run's).", resume.Err.Trim());

        // another CIFAR-10 folder: eval takes it and says so; a resume refuses it in one line naming both folders
        var other = P("other-cifar");
        Directory.CreateDirectory(other);
        foreach (var f in Directory.GetFiles(moved)) File.Copy(f, Path.Combine(other, Path.GetFileName(f)));
        var batch = File.ReadAllBytes(Path.Combine(other, "data_batch_1.bin"));
        batch[0] = (byte)((batch[0] + 1) % 10); // one label
        File.WriteAllBytes(Path.Combine(other, "data_batch_1.bin"), batch);
        ev = Run("eval", "--checkpoint", P("run"), "--data", "cifar10", other, "--threads", "1");
        Assert.True(ev.Code == 0, ev.Err);
        Assert.StartsWith($"data: {other} is not the dataset the run was trained on in {data} (labels and sampled pixels sha256 ", ev.Out);
        resume = Run("train", "--resume", P("run"), "--epochs", "2", "--data", "cifar10", other);
        Assert.Equal(2, resume.Code);
        Assert.StartsWith($"error: {other}: not the dataset the run in {P("run")} was trained on in {data} (labels and sampled pixels sha256 ", resume.Err.Trim());
        Assert.Single(resume.Err.Trim().Split('\n'));

        resume = Run("train", "--resume", P("run"), "--epochs", "2", "--data", "cifar10", moved);
        Assert.True(resume.Code == 0, resume.Err);
        Assert.Contains($"resume changes: --data {data} -> {moved}, --epochs 1 -> 2", resume.Out);
    }
}
