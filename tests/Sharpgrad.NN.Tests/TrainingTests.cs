using Sharpgrad.NN;
using Sharpgrad.Workflows;
using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class TrainingTests
{
    [Fact]
    public void LearnsFashionMnistFromTwoThousandImagesInTwoEpochs()
    {
        using var f = new TestFiles();
        var trainer = TrainWorkflow.Create(new TrainOptions { Epochs = 2, Limit = 2000, Seed = 1 }, f.Path("run"));
        var result = trainer.Run();
        Assert.Equal(10000, trainer.Test.Count);
        Assert.True(result.Accuracy > 0.70, $"test accuracy {result.Accuracy:P2} after 2 epochs on 2,000 images");
        Assert.Equal(2, trainer.Metrics.Count);
        foreach (var file in new[] { RunFiles.Weights, RunFiles.ModelJson, RunFiles.MetricsCsv, RunFiles.Checkpoint })
            Assert.True(File.Exists(f.Path("run", file)), file);
        Assert.Equal(3, File.ReadAllLines(f.Path("run", RunFiles.MetricsCsv)).Length);

        // the saved run loads back and evaluates to the same accuracy
        var loaded = RunFiles.Load(f.Path("run"));
        var again = TrainingLoop.Evaluate(loaded.Model, new Sharpgrad.NN.DataLoader(trainer.Test, 500, transforms: [loaded.Normalize]), 10);
        Assert.Equal(result.Accuracy, again.Accuracy);
    }

    [Fact]
    public void FlipAveragedEvaluationIsTheMeanOfTheTwoViewsAndTheRunAndEvalUseIt()
    {
        using var f = new TestFiles();
        var trainer = TrainWorkflow.Create(new TrainOptions { Epochs = 1, Limit = 1000, TestLimit = 300, Seed = 3, Tta = "flip" }, f.Path("run"));
        var result = trainer.Run();

        // by hand: the logits of the images and of their mirrors, averaged
        var loaded = RunFiles.Load(f.Path("run"));
        var model = loaded.Model;
        model.Eval();
        long correct = 0;
        var loader = new Sharpgrad.NN.DataLoader(trainer.Test, 100, transforms: [loaded.Normalize]);
        using (Tensor.NoGrad())
        {
            foreach (var batch in loader.Epoch(0))
            {
                var mirrored = Tensor.FromArray(Mirror(batch.Images.ToArray(), batch.Images.Shape), batch.Images.Shape);
                var a = model.Call(batch.Images).ToArray();
                var b = model.Call(mirrored).ToArray();
                for (int i = 0; i < batch.Labels.Length; i++)
                {
                    int best = 0;
                    for (int j = 1; j < 10; j++) if (a[i * 10 + j] + b[i * 10 + j] > a[i * 10 + best] + b[i * 10 + best]) best = j;
                    if (best == batch.Labels[i]) correct++;
                }
            }
        }
        Assert.Equal((double)correct / 300, result.Accuracy);
        // eval (on the whole test set) takes the run's test-time augmentation unless told otherwise
        var all = new Sharpgrad.NN.DataLoader(DataSources.Load("fashion-mnist", null).Test, 500, transforms: [loaded.Normalize]);
        var flipped = EvalWorkflow.Run(new EvalOptions { Checkpoint = f.Path("run") });
        Assert.Equal("flip", flipped.Tta);
        Assert.Equal(TrainingLoop.Evaluate(model, all, 10, flipAverage: true).Loss, flipped.Evaluation.Loss);
        var plain = EvalWorkflow.Run(new EvalOptions { Checkpoint = f.Path("run"), Tta = "none" });
        Assert.Equal("none", plain.Tta);
        Assert.Equal(TrainingLoop.Evaluate(model, all, 10).Loss, plain.Evaluation.Loss);
        Assert.NotEqual(flipped.Evaluation.Loss, plain.Evaluation.Loss);

        // flip averaging needs image batches
        var flat = new Sequential(new Flatten(), new Linear(4, 2));
        var rows = new TensorDataset(Tensor.Zeros([6, 4]), [0, 1, 0, 1, 0, 1], 2);
        var e = Assert.Throws<ArgumentException>(() => TrainingLoop.Evaluate(flat, new Sharpgrad.NN.DataLoader(rows, 3), 2, flipAverage: true));
        Assert.Contains("flip averaging", e.Message);
        Assert.Contains("[3,4]", e.Message);
    }

    // (N,C,H,W) mirrored along W, element by element
    private static float[] Mirror(float[] x, int[] shape)
    {
        int w = shape[3];
        var y = new float[x.Length];
        for (int row = 0; row < x.Length / w; row++)
            for (int j = 0; j < w; j++) y[row * w + j] = x[row * w + (w - 1 - j)];
        return y;
    }

    [Fact]
    public void PooledTrainingStepsGiveBitwiseTheWeightsOfUnpooledSteps()
    {
        var g = new Generator(4);
        var pixels = new byte[160 * 28 * 28];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)g.NextInt(256);
        var data = new Sharpgrad.NN.ImageDataset(pixels, [.. Enumerable.Range(0, 160).Select(i => i % 10)], 1, 28, 28,
            [.. Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))], "test");
        var loader = new Sharpgrad.NN.DataLoader(data, 32, shuffle: true, seed: 2);

        // the trainer's steps run in a TensorScope: the second and later steps reuse the first step's arrays
        var a = ExamCnn.Create(1, 28, 28, generator: new Generator(1));
        var optA = new AdamW(a.Parameters(), 0.01);
        TrainingLoop.TrainEpoch(a, loader, optA, null, 0, 1);
        TrainingLoop.TrainEpoch(a, loader, optA, null, 1, 1);
        Assert.All(a.Parameters(), p => Assert.Null(p.Grad)); // pooled gradients are cleared with their scope

        // a parameter left out of the optimizer still gets a gradient each step: it must not outlive the step either
        var frozen = ExamCnn.Create(1, 28, 28, generator: new Generator(1));
        var firstConv = frozen.Parameters().Take(2).ToList();
        var before = firstConv[0].Data.ToArray();
        var optF = new AdamW(frozen.Parameters().Skip(2), 0.01);
        TrainingLoop.TrainEpoch(frozen, loader, optF, null, 0, 1);
        TrainingLoop.TrainEpoch(frozen, loader, optF, null, 1, 1);
        Assert.Equal(before, firstConv[0].Data.ToArray());
        Assert.Null(firstConv[0].Grad);

        // the same steps written out, without a scope
        var b = ExamCnn.Create(1, 28, 28, generator: new Generator(1));
        var optB = new AdamW(b.Parameters(), 0.01);
        b.Train();
        for (int epoch = 0; epoch < 2; epoch++)
        {
            foreach (var batch in loader.Epoch(epoch))
            {
                var loss = Losses.CrossEntropy(b.Forward(batch.Images), batch.Labels);
                optB.ZeroGrad();
                loss.Backward();
                optB.Step();
            }
        }
        var sa = a.StateDict();
        var sb = b.StateDict();
        for (int i = 0; i < sa.Count; i++) Assert.Equal(sb[i].Value.ToArray(), sa[i].Value.ToArray());
        Assert.Equal(TrainingLoop.Evaluate(b, loader, 10).Loss, TrainingLoop.Evaluate(a, loader, 10).Loss);
    }

    [Fact]
    public void ResumingGivesBitwiseTheWeightsOfAStraightRun()
    {
        using var f = new TestFiles();
        var recipe = new TrainOptions { Limit = 600, TestLimit = 200, BatchSize = 64, Schedule = "none", Seed = 5, Threads = 2, Dropout = 0.2, Augment = "flip,crop", Lr = 0.003 };
        TrainWorkflow.Create(recipe with { Epochs = 3 }, f.Path("straight")).Run();
        TrainWorkflow.Create(recipe with { Epochs = 2 }, f.Path("split")).Run();
        var resumed = TrainWorkflow.Create(recipe with { Epochs = 3 }, f.Path("split"), resumeDir: f.Path("split"));
        Assert.Equal(2, resumed.StartEpoch);
        resumed.Run();
        var a = SafeTensors.Read(f.Path("straight", RunFiles.Weights)).Tensors;
        var b = SafeTensors.Read(f.Path("split", RunFiles.Weights)).Tensors;
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var k in a.Keys) Assert.Equal(a[k].ToDoubleArray(), b[k].ToDoubleArray());
        Assert.Equal(3, resumed.Metrics.Count);
    }

    [Fact]
    public void DivergenceNamesEpochAndStepAndKeepsTheLastCheckpoint()
    {
        using var f = new TestFiles();
        var recipe = new TrainOptions { Limit = 256, TestLimit = 100, BatchSize = 64, Schedule = "none", Epochs = 1 };
        TrainWorkflow.Create(recipe, f.Path("run")).Run();
        var before = File.ReadAllBytes(f.Path("run", RunFiles.Checkpoint));
        var t = TrainWorkflow.Create(recipe with { Epochs = 2 }, f.Path("run"), resumeDir: f.Path("run"));
        using (Tensor.NoGrad()) t.Model.NamedParameters().First().Parameter.Data[0, 0, 0, 0] = double.NaN;
        var ex = Assert.Throws<DivergedException>(() => t.Run());
        Assert.Contains("the loss is NaN at epoch 2, step 1", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(f.Path("run", RunFiles.Checkpoint)));
    }

    [Fact]
    public void ResumeRefusesACheckpointFromAnotherRun()
    {
        using var f = new TestFiles();
        var recipe = new TrainOptions { Limit = 128, TestLimit = 64, BatchSize = 64, Schedule = "none", Epochs = 1 };
        TrainWorkflow.Create(recipe, f.Path("cnn")).Run();
        TrainWorkflow.Create(recipe with { Model = "mlp" }, f.Path("mlp")).Run();
        File.Copy(f.Path("mlp", RunFiles.Checkpoint), f.Path("cnn", RunFiles.Checkpoint), overwrite: true);
        var modelJson = File.ReadAllBytes(f.Path("cnn", RunFiles.ModelJson));
        var e = Assert.Throws<DataException>(() => TrainWorkflow.Create(recipe with { Epochs = 2 }, f.Path("cnn"), resumeDir: f.Path("cnn")));
        Assert.Equal($"{f.Path("cnn")}: checkpoint.safetensors and model.json come from different runs (the checkpoint trains mlp, model.json describes exam-cnn); resuming would overwrite the finished run: resume a folder whose files belong together.", e.Message);
        Assert.Equal(modelJson, File.ReadAllBytes(f.Path("cnn", RunFiles.ModelJson)));
        TrainWorkflow.Create(recipe with { Model = "mlp", Epochs = 2 }, f.Path("mlp"), resumeDir: f.Path("mlp")).Run(); // its own folder resumes
    }

    [Fact]
    public void AnInfiniteTestLossStopsTrainingInOneLineAndLeavesNoEmptyFolder()
    {
        // a rate this high keeps the training loss finite for an epoch while the test loss overflows (it once reached
        // the metrics writer as a raw JSON error and left an empty --out folder)
        using var f = new TestFiles();
        var recipe = new TrainOptions { Model = "mlp", Lr = 1e9, Limit = 300, TestLimit = 100, Epochs = 1 };
        var ex = Assert.Throws<DivergedException>(() => TrainWorkflow.Create(recipe, f.Path("run")).Run());
        Assert.Matches("^training diverged: the test loss is [^ ]+ after epoch 1; the last good checkpoint \\(none yet\\) is unchanged\\. Try a lower Lr\\.$", ex.Message);
        Assert.False(Directory.Exists(f.Path("run")));
    }

    [Fact]
    public void OptionsAreValidatedBeforeAnythingIsWritten()
    {
        using var f = new TestFiles();
        var bad = new[]
        {
            (new TrainOptions { Optimizer = "lbfgs" }, "Optimizer: unknown optimizer 'lbfgs'"),
            (new TrainOptions { Epochs = 0 }, "Epochs: expected a positive number, got 0"),
            (new TrainOptions { Dropout = 1 }, "Dropout: expected a probability in [0, 1), got 1"),
            (new TrainOptions { Data = "imagenet" }, "Data: unknown dataset 'imagenet'"),
            (new TrainOptions { Data = "cifar10" }, "Data: cifar10 needs a folder: Data cifar10 DIR."),
            (new TrainOptions { Lr = -1 }, "Lr: expected a positive number, got -1"),
        };
        foreach (var (options, message) in bad)
        {
            var ex = Assert.Throws<OptionException>(() => TrainWorkflow.Create(options, f.Path("out")));
            Assert.Contains(message, ex.Message);
        }
        Assert.Throws<Sharpgrad.NN.DataException>(() => TrainWorkflow.Create(new TrainOptions { Data = "mnist-idx", DataDir = f.Path("missing") }, f.Path("out")));
        Assert.False(Directory.Exists(f.Path("out")));
    }
}
