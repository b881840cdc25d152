using Sharpgrad.NN;
using Xunit;
using Xunit.Abstractions;

namespace Sharpgrad.NN.Tests;

public sealed class ModuleTrainerTests(ITestOutputHelper output)
{
    // a two-layer perceptron with dropout, registered by hand
    private sealed class Mlp : Module
    {
        private readonly Linear _hidden, _out;
        private readonly Dropout _drop;

        public Mlp(int features, int classes, Generator g, double dropout = 0)
        {
            _hidden = RegisterModule("hidden", new Linear(features, 16, generator: g));
            _drop = RegisterModule("drop", new Dropout(dropout, g));
            _out = RegisterModule("out", new Linear(16, classes, generator: g));
        }

        public override Tensor Forward(Tensor input) => _out.Call(_drop.Call(_hidden.Call(input).Relu()));
    }

    // three Gaussian blobs in 4-D: class k is centred at 2 e_k
    private static TensorDataset Blobs(int n, ulong seed)
    {
        var g = new Generator(seed);
        var x = Tensor.Randn([n, 4], g).ToArray();
        var labels = new int[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = i % 3;
            x[i * 4 + labels[i]] += 2;
        }
        return new TensorDataset(Tensor.FromArray(x, n, 4), labels, 3, source: "blobs");
    }

    [Fact]
    public void TensorDatasetBatchesFeatureVectorsAsGiven()
    {
        var data = new TensorDataset(Tensor.Arange(0, 12).Reshape(6, 2), [0, 1, 0, 1, 0, 1], 2);
        Assert.Equal(new[] { 2 }, data.ExampleShape);
        var batches = new DataLoader(data, 4).Epoch(0).ToList();
        Assert.Equal(new[] { 4, 2 }, batches[0].Images.Shape);
        Assert.Equal(new[] { 0f, 1, 2, 3, 4, 5, 6, 7 }, batches[0].Images.ToArray());
        Assert.Equal(new[] { 8f, 9, 10, 11 }, batches[1].Images.ToArray());
        Assert.Equal(new[] { 0, 1 }, batches[1].Labels);
        var ex = Assert.Throws<ArgumentException>(() => new DataLoader(data, 4, transforms: [new RandomHorizontalFlip()]));
        Assert.Contains("transforms work on (C, H, W) images", ex.Message);
        Assert.Contains("label 5 of example 1 is out of range for 2 classes", Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros([2, 3]), [0, 5], 2)).Message);
        Assert.Contains("3 labels for 2 examples", Assert.Throws<ArgumentException>(() => new TensorDataset(Tensor.Zeros([2, 3]), [0, 1, 0], 2)).Message);
        var (tr, va) = Blobs(100, 1).Split(0.2, 3);
        Assert.Equal((80, 20), (tr.Count, va.Count));
    }

    [Fact]
    public void TrainsACustomModuleOnInMemoryFeatures()
    {
        using var f = new TestFiles();
        var options = new ModuleTrainerOptions { Epochs = 5, BatchSize = 32, LearningRate = 0.01, Threads = 2, Seed = 3 };
        var trainer = new ModuleTrainer(g => new Mlp(4, 3, g), Blobs(600, 1), Blobs(300, 2), options);
        var steps = new List<StepProgress>();
        var result = trainer.Fit([new Recorder(steps), new CsvLogger(f.Path("m.csv"))]);
        Assert.Equal(5, result.Metrics.Count);
        Assert.Equal(5 * 19, steps.Count);
        Assert.Equal(19, steps[^1].Step);
        Assert.True(result.Validation!.Accuracy > 0.85, $"validation accuracy {result.Validation.Accuracy:P2}");
        Assert.True(result.Metrics[^1].TrainLoss < result.Metrics[0].TrainLoss);
        Assert.Equal(6, File.ReadAllLines(f.Path("m.csv")).Length);
        Assert.Equal(result.Validation.Accuracy, trainer.Evaluate(Blobs(300, 2)).Accuracy);
    }

    private sealed class Recorder(List<StepProgress> steps, int stopAfterEpoch = 0) : ITrainingCallback
    {
        public void StepCompleted(TrainingState state, StepProgress progress) => steps.Add(progress);

        public void EpochCompleted(TrainingState state, EpochMetrics metrics)
        {
            if (state.Epoch == stopAfterEpoch) state.Stop("test");
        }
    }

    [Fact]
    public void ResumingACustomModuleGivesBitwiseTheWeightsOfAStraightRun()
    {
        using var f = new TestFiles();
        var options = new ModuleTrainerOptions
        {
            Epochs = 3, BatchSize = 50, LearningRate = 0.01, Threads = 2, Seed = 9,
            Optimizer = ps => new Sgd(ps, 0.05, momentum: 0.9),
            Schedule = (opt, steps) => new CosineAnnealingLr(opt, steps),
        };
        Module Build(Generator g) => new Mlp(4, 3, g, dropout: 0.3);
        var straight = new ModuleTrainer(Build, Blobs(400, 1), Blobs(100, 2), options);
        straight.Fit();

        // the same recipe, stopped after epoch 2 with its checkpoint, then resumed by a new trainer
        var first = new ModuleTrainer(Build, Blobs(400, 1), Blobs(100, 2), options with { CheckpointPath = f.Path("ck", "resume.safetensors") });
        var stopped = first.Fit([new Recorder([], stopAfterEpoch: 2)]);
        Assert.Equal("test", stopped.StopReason);
        Assert.Equal(2, stopped.EpochsRun);
        var resumed = new ModuleTrainer(Build, Blobs(400, 1), Blobs(100, 2), options);
        resumed.LoadCheckpoint(f.Path("ck", "resume.safetensors"));
        Assert.Equal(2, resumed.EpochsDone);
        var r = resumed.Fit();
        Assert.Equal(1, r.EpochsRun);
        Assert.Equal(3, r.Metrics.Count);
        var a = straight.Model.StateDict();
        var b = resumed.Model.StateDict();
        for (int i = 0; i < a.Count; i++) Assert.Equal(a[i].Value.ToArray(), b[i].Value.ToArray());
        Assert.Equal(straight.Metrics[^1].TestLoss, r.Metrics[^1].TestLoss);

        // a checkpoint that has already trained the recipe's epochs is refused
        var finished = new ModuleTrainer(Build, Blobs(400, 1), null, options with { Epochs = 2 });
        Assert.Contains("ModuleTrainerOptions.Epochs: the checkpoint", Assert.Throws<ArgumentException>(() => finished.LoadCheckpoint(f.Path("ck", "resume.safetensors"))).Message);
    }

    [Fact]
    public void EarlyStoppingAndBestCheckpointFollowTheMonitoredMetric()
    {
        using var f = new TestFiles();
        // a learning rate too small to move the validation loss by 1e-3: no improvement after epoch 1
        var options = new ModuleTrainerOptions { Epochs = 10, BatchSize = 100, LearningRate = 1e-9, Threads = 1 };
        var stop = new EarlyStopping(TrainingMetric.ValidationLoss, patience: 2, minDelta: 1e-3);
        var best = new BestCheckpoint(f.Path("best.safetensors"), TrainingMetric.ValidationLoss);
        var trainer = new ModuleTrainer(g => new Mlp(4, 3, g), Blobs(200, 1), Blobs(100, 2), options);
        var result = trainer.Fit([stop, best]);
        Assert.Equal(3, result.Metrics.Count);
        Assert.Equal(3, stop.StoppedAfterEpoch);
        Assert.StartsWith("early stopping: ValidationLoss has not improved for 2 epochs", result.StopReason, StringComparison.Ordinal);
        int bestIndex = TrainingMetric.ValidationLoss.BestIndex(result.Metrics);
        Assert.Equal(result.Metrics[bestIndex].Epoch, best.BestEpoch);
        Assert.True(File.Exists(best.Path));
    }

    [Fact]
    public void ErrorsNameTheLibrarysOwnPropertiesOnOneLine()
    {
        var data = Blobs(60, 1);
        Module Mlp3(Generator g) => new Mlp(4, 3, g);
        var cases = new (Action Act, string Message)[]
        {
            (() => _ = new ModuleTrainer(Mlp3, data, null, new ModuleTrainerOptions { Epochs = 0 }), "ModuleTrainerOptions.Epochs: expected a positive number of epochs, got 0."),
            (() => _ = new ModuleTrainer(Mlp3, data, null, new ModuleTrainerOptions { BatchSize = -1 }), "ModuleTrainerOptions.BatchSize: expected a positive number"),
            (() => _ = new ModuleTrainer(Mlp3, data, null, new ModuleTrainerOptions { LearningRate = 0 }), "ModuleTrainerOptions.LearningRate: expected a positive finite number, got 0."),
            (() => _ = new ModuleTrainer(Mlp3, data, null, new ModuleTrainerOptions { L1 = double.NaN }), "ModuleTrainerOptions.L1: expected a non-negative finite number"),
            (() => _ = new ModuleTrainer(Mlp3, data, null, new ModuleTrainerOptions { Threads = 0 }), "ModuleTrainerOptions.Threads: expected a positive number"),
            (() => _ = new ModuleTrainer(Mlp3, data, null, new ModuleTrainerOptions { BatchSize = 100, DropLast = true }), "ModuleTrainerOptions.DropLast: drops every batch"),
            (() => _ = new ModuleTrainer(g => new Mlp(4, 5, g), data), "gives output [1,5] for one example of shape [1,4]; expected [1,3], one score per class"),
            (() => _ = new ModuleTrainer(g => new Mlp(7, 3, g), data), "does not fit one example of shape [1,4]"),
            (() => _ = new ModuleTrainer(Mlp3, data, new TensorDataset(Tensor.Zeros([2, 5]), [0, 1], 3)), "validation examples (TensorDataset) have shape [5] but training examples have [4]"),
            (() => new ModuleTrainer(Mlp3, data).Fit([new EarlyStopping()]), "EarlyStopping: monitors ValidationLoss but the trainer has no validation set"),
        };
        foreach (var (act, message) in cases)
        {
            var ex = Assert.ThrowsAny<ArgumentException>(act);
            Assert.Contains(message, ex.Message);
            Assert.DoesNotContain("--", ex.Message);
            Assert.DoesNotContain('\n', ex.Message);
        }
    }

    [Fact]
    public void DivergenceNamesTheLearningRateOptionNotAFlag()
    {
        using var f = new TestFiles();
        var trainer = new ModuleTrainer(g => new Mlp(4, 3, g), Blobs(64, 1), null,
            new ModuleTrainerOptions { Epochs = 2, BatchSize = 32, Threads = 1, CheckpointPath = f.Path("ck.safetensors") });
        trainer.Fit([new Recorder([], stopAfterEpoch: 1)]);
        var before = File.ReadAllBytes(f.Path("ck.safetensors"));
        using (Tensor.NoGrad()) trainer.Model.Parameters().First().Data[0, 0] = double.NaN;
        var ex = Assert.Throws<DivergedException>(() => trainer.Fit());
        Assert.Contains("the loss is NaN at epoch 2, step 1", ex.Message);
        Assert.Contains("ModuleTrainerOptions.LearningRate", ex.Message);
        Assert.DoesNotContain("--", ex.Message);
        Assert.Equal(before, File.ReadAllBytes(f.Path("ck.safetensors")));
    }

    // allocation of the training thread per warm step, for a custom module and for the exam CNN, through the same
    // engine: from the start of the forward pass to the end of the step (the step itself), and from the end of one step
    // to the next forward pass (fetching the batch: the loader's background preparation runs on this thread when it has
    // not started yet, as on a busy 2-core machine)
    private sealed class Measured : Module
    {
        private readonly Module _inner;

        public Measured(Module inner) => _inner = RegisterModule("inner", inner);

        public long ForwardStart { get; private set; }

        public override Tensor Forward(Tensor input)
        {
            ForwardStart = GC.GetAllocatedBytesForCurrentThread();
            return _inner.Call(input);
        }
    }

    private sealed class AllocationProbe : ITrainingCallback
    {
        private long _lastEnd;

        public List<(long Step, long Fetch)> PerStep { get; } = [];

        public void StepCompleted(TrainingState state, StepProgress progress)
        {
            long now = GC.GetAllocatedBytesForCurrentThread();
            long start = ((Measured)state.Model).ForwardStart;
            if (progress.Step > 1) PerStep.Add((now - start, start - _lastEnd));
            _lastEnd = now;
        }
    }

    private static List<(long Step, long Fetch)> WarmStepBytes(Func<Generator, Module> model)
    {
        var g = new Generator(7);
        var pixels = new byte[640 * 28 * 28];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)g.NextInt(256);
        var data = new ImageDataset(pixels, [.. Enumerable.Range(0, 640).Select(i => i % 10)], 1, 28, 28,
            [.. Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))], "random");
        var probe = new AllocationProbe();
        new ModuleTrainer(gen => new Measured(model(gen)), data, null, new ModuleTrainerOptions { Epochs = 1, BatchSize = 64, Threads = 2 }).Fit([probe]);
        return probe.PerStep.Skip(3).ToList(); // steps 5..10: the pool is warm
    }

    [Fact]
    public void AWarmStepOfACustomModuleAllocatesAboutAsLittleAsTheExamCnn()
    {
        var customSteps = WarmStepBytes(g => new SmallNet(g));
        var examSteps = WarmStepBytes(g => ExamCnn.Create(1, 28, 28, generator: g));
        static string Show(List<(long Step, long Fetch)> s) => string.Join(" ", s.Select(b => $"{b.Step:N0}+{b.Fetch:N0}"));
        output.WriteLine($"bytes allocated by the training thread per warm step (batch 64, 1x28x28), step + batch fetch, steps 5-10: SmallNet {Show(customSteps)}; exam CNN {Show(examSteps)}");
        long custom = customSteps.Min(s => s.Step), exam = examSteps.Min(s => s.Step);
        Assert.True(custom < 500_000, $"SmallNet step allocates {custom:N0} bytes");
        Assert.True(exam < 500_000, $"exam CNN step allocates {exam:N0} bytes");
        Assert.True(custom < 3 * exam, $"SmallNet step allocates {custom:N0} bytes, the exam CNN's {exam:N0}");
    }
}
