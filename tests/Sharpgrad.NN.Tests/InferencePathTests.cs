using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>
/// The inference path: batch norm folded into the convolution before it (evaluation without gradients only),
/// convolution + ReLU fused for every shape, and <see cref="Module.Predict"/>.
/// </summary>
public sealed class InferencePathTests
{
    private static void Perturb(Module model, Generator g)
    {
        // running statistics and affine parameters away from their initial 0/1, so a wrong fold shows
        using var _ = Tensor.NoGrad();
        foreach (var (name, t) in model.StateDict())
        {
            if (name.EndsWith("running_var", StringComparison.Ordinal)) t.CopyFrom(Tensor.Rand(t.Shape, g).Mul(2).Add(0.2));
            else if (name.EndsWith("running_mean", StringComparison.Ordinal) || (t.Rank == 1 && name.EndsWith("bias", StringComparison.Ordinal)))
                t.CopyFrom(Tensor.Randn(t.Shape, g).Mul(0.5));
            else if (t.Rank == 1 && name.EndsWith("weight", StringComparison.Ordinal)) t.CopyFrom(Tensor.Rand(t.Shape, g).Add(0.5));
        }
    }

    private static float[] LayerByLayer(Module model, Tensor x)
    {
        using var _ = Tensor.NoGrad();
        return model.Forward(x).ToArray(); // an unfused model runs each layer through Call
    }

    [Theory]
    [InlineData("resnet8", 3, 32)]
    [InlineData("mobilenet", 1, 28)]
    [InlineData("cnn3", 1, 28)]
    [InlineData("resnet20", 1, 28)]
    public void FoldedBatchNormEqualsTheLayersUpToRounding(string name, int c, int h)
    {
        var plain = Models.Create(name, c, h, h, 10, generator: new Generator(3));
        var fused = Models.Create(name, c, h, h, 10, generator: new Generator(3));
        Perturb(plain, new Generator(4));
        Perturb(fused, new Generator(4));
        fused.Fuse();
        plain.Eval();
        fused.Eval();
        var x = Tensor.Randn([3, c, h, h], new Generator(5));
        float[] a = LayerByLayer(plain, x), b = LayerByLayer(fused, x);
        Assert.Equal(a.Length, b.Length);
        double scale = a.Max(Math.Abs);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 * scale + 1e-6, $"{name} output {i}: {a[i]} vs {b[i]}");
        Assert.NotEqual(a, b); // the folded path ran (bitwise equal would mean it did not)
    }

    [Fact]
    public void FoldingWithBiasAndGroupsIsShownInThePlan()
    {
        Sequential Build() => new(new Conv2d(3, 8, 3, padding: 1, generator: new Generator(1)), new BatchNorm2d(8), new ReLU(),
            new Conv2d(8, 8, 3, 2, 1, bias: false, generator: new Generator(2), groups: 8), new BatchNorm2d(8));
        var plain = Build();
        Perturb(plain, new Generator(6));
        var fused = Build();
        fused.LoadStateDict(plain.StateDict().ToDictionary(kv => kv.Name, kv => kv.Value));
        fused.Fuse();
        Assert.Equal(["0+1+2: Conv2d+BatchNorm2d+ReLU: batch norm folded into the convolution, ReLU fused in evaluation without gradients",
            "3+4: Conv2d+BatchNorm2d: batch norm folded into the convolution in evaluation without gradients"], fused.Plan);
        plain.Eval();
        fused.Eval();
        var x = Tensor.Randn([2, 3, 9, 9], new Generator(7));
        float[] a = LayerByLayer(plain, x), b = LayerByLayer(fused, x);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5 * Math.Abs(a[i]) + 2e-6, $"output {i}: {a[i]} vs {b[i]}");
    }

    [Fact]
    public void ResidualBlocksFuseTheirSumWithTheReluAfterThem()
    {
        var net = (Sequential)Models.Create("resnet8", 1, 12, 12, 10, generator: new Generator(8));
        net.Fuse();
        var steps = net.Plan.Where(p => p.Contains("Residual+ReLU fused", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, steps.Count); // one basic block a stage
        Assert.All(steps, p => Assert.Matches(@"^\d+\+\d+: Residual\+ReLU fused", p));
    }

    [Fact]
    public void TrainingAndRecordedGradientsRunTheLayersBitwise()
    {
        (float[] Out, float[][] Grads, float[][] State) Run(bool fuse, bool training)
        {
            var net = Models.Create("resnet8", 1, 12, 12, 10, generator: new Generator(8));
            Perturb(net, new Generator(2));
            if (fuse) net.Fuse();
            net.Train(training);
            var x = Tensor.Randn([3, 1, 12, 12], new Generator(9));
            var y = net.Forward(x);
            Losses.CrossEntropy(y, [1, 4, 7]).Backward();
            return (y.ToArray(), [.. net.Parameters().Select(p => p.Grad!.ToArray())], [.. net.StateDict().Select(kv => kv.Value.ToArray())]);
        }
        foreach (bool training in new[] { true, false })
        {
            var a = Run(fuse: false, training);
            var b = Run(fuse: true, training);
            Assert.Equal(a.Out, b.Out);
            for (int i = 0; i < a.Grads.Length; i++) Assert.Equal(a.Grads[i], b.Grads[i]);
            for (int i = 0; i < a.State.Length; i++) Assert.Equal(a.State[i], b.State[i]);
        }
    }

    [Fact]
    public void FoldedWeightsFollowTheParameters()
    {
        var net = new Sequential(new Conv2d(2, 4, 3, padding: 1, generator: new Generator(1)), new BatchNorm2d(4));
        net.Fuse();
        net.Eval();
        var x = Tensor.Randn([1, 2, 5, 5], new Generator(2));
        Tensor Run()
        {
            using var _ = Tensor.NoGrad();
            return net.Forward(x);
        }
        var before = Run().ToArray();
        var bn = (BatchNorm2d)net[1];
        using (Tensor.NoGrad()) bn.RunningMean.CopyFrom(Tensor.Full([4], 0.5));
        var after = Run().ToArray();
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i] - 0.5f / MathF.Sqrt(1 + 1e-5f), after[i], 1e-5f);
    }

    // the folded weights and the pooled norm's map are kept between evaluation calls: every way a parameter or a
    // running statistic is written (a training step, an optimizer step, loading a state dict, pruning, the indexer)
    // must be seen by the next evaluation, through Forward and Predict
    [Fact]
    public void KeptFoldsFollowEveryWrite()
    {
        // Conv2d+BatchNorm2d+ReLU (folded, 3x3 direct kernel) and Conv2d+ReLU+MaxPool2d+BatchNorm2d (pooled map)
        Sequential Build() => new(new Conv2d(2, 16, 3, padding: 1, generator: new Generator(1)), new BatchNorm2d(16), new ReLU(),
            new Conv2d(16, 16, 3, padding: 1, generator: new Generator(2)), new ReLU(), new MaxPool2d(2), new BatchNorm2d(16),
            new Flatten(), new Linear(16 * 4 * 4, 3, generator: new Generator(3)));
        var net = Build();
        Perturb(net, new Generator(4));
        net.Fuse();
        Assert.StartsWith("0+1+2: Conv2d+BatchNorm2d+ReLU: batch norm folded", net.Plan[0], StringComparison.Ordinal);
        Assert.StartsWith("3+4+5+6: Conv2d+ReLU+MaxPool2d+BatchNorm2d fused", net.Plan[1], StringComparison.Ordinal);
        var x = Tensor.Randn([2, 2, 8, 8], new Generator(5));
        var previous = Array.Empty<float>();
        void Check(string after)
        {
            var plain = Build();
            plain.LoadStateDict(net.StateDict().ToDictionary(kv => kv.Name, kv => kv.Value));
            plain.Eval();
            float[] want = LayerByLayer(plain, x);
            net.Eval();
            float[] forward = LayerByLayer(net, x), predicted = net.Predict(x).ToArray();
            for (int i = 0; i < want.Length; i++)
            {
                Assert.True(Math.Abs(want[i] - forward[i]) <= 1e-5 * Math.Abs(want[i]) + 1e-5, $"after {after}, Forward output {i}: {forward[i]}, layer by layer {want[i]}");
                Assert.True(Math.Abs(want[i] - predicted[i]) <= 1e-5 * Math.Abs(want[i]) + 1e-5, $"after {after}, Predict output {i}: {predicted[i]}, layer by layer {want[i]}");
            }
            Assert.NotEqual(previous, forward); // the write changed the output
            previous = forward;
        }
        Check("nothing");
        // a training step: the running statistics (indexer) and every parameter (the optimizer's AsSpan)
        net.Train();
        var opt = new Sgd(net.Parameters(), 0.1, momentum: 0.9);
        Losses.CrossEntropy(net.Forward(x), [0, 2]).Backward();
        opt.Step();
        Check("a training step");
        // loading another model's state (CopyFrom)
        var other = Build();
        Perturb(other, new Generator(9));
        net.LoadStateDict(other.StateDict().ToDictionary(kv => kv.Name, kv => kv.Value));
        Check("LoadStateDict");
        // pruning half of the first convolution's weights
        Pruner.Magnitude(net[0].OwnParameters[0].Parameter, 0.5);
        Check("pruning");
        // the indexer on a norm's running variance and on the second convolution's bias
        using (Tensor.NoGrad())
        {
            ((BatchNorm2d)net[6]).RunningVar[3] = 7.0;
            net[3].OwnParameters[1].Parameter.Data[5] = 2.5;
        }
        Check("indexer writes");
    }

    [Theory]
    [InlineData(4, 4, 3, 1, 2, 1, 0, 4)]  // depthwise, (3, 1) kernel, (2, 1) stride
    [InlineData(4, 6, 1, 1, 1, 1, 0, 2)]  // grouped 1x1
    [InlineData(3, 5, 5, 5, 1, 1, 2, 1)]  // 5x5, pad 2
    public void ConvReluForEveryShapeEqualsConvThenRelu(int c, int oc, int kh, int kw, int sh, int sw, int pad, int groups)
    {
        var g = new Generator(11);
        var x = Tensor.Randn([2, c, 9, 8], g).RequiresGrad_();
        var w = Tensor.Randn([oc, c / groups, kh, kw], g).RequiresGrad_();
        var b = Tensor.Randn([oc], g).RequiresGrad_();
        var fused = Tensor.Conv2dRelu(x, w, b, (sh, sw), (pad, pad), groups);
        var upstream = Tensor.Randn(fused.Shape, g);
        fused.Mul(upstream).Sum().Backward();
        float[][] g1 = [x.Grad!.ToArray(), w.Grad!.ToArray(), b.Grad!.ToArray()];
        x.Grad = null;
        w.Grad = null;
        b.Grad = null;
        var plain = Tensor.Conv2d(x, w, b, (sh, sw), (pad, pad), groups).Relu();
        plain.Mul(upstream).Sum().Backward();
        Assert.Equal(plain.ToArray(), fused.ToArray());
        Assert.Equal(x.Grad!.ToArray(), g1[0]);
        Assert.Equal(w.Grad!.ToArray(), g1[1]);
        Assert.Equal(b.Grad!.ToArray(), g1[2]);
    }

    [Fact]
    public void PredictEqualsAnEvaluationForwardAndKeepsTheModes()
    {
        var net = Models.Create("resnet8", 1, 12, 12, 10, generator: new Generator(8));
        Perturb(net, new Generator(1));
        var x = Tensor.Randn([7, 1, 12, 12], new Generator(3));
        net.Eval();
        var expected = LayerByLayer(net, x);
        net.Train();
        var stem = net.NamedModules().First(m => m.Name == "1").Module;
        stem.Eval(); // a user's mixed modes come back as they were
        var whole = net.Predict(x);
        var split = net.Predict(x, batchSize: 3);
        Assert.Equal(expected, whole.ToArray());
        // in pieces of 3 the kernels may block the work differently (as PyTorch's): equal up to rounding
        var pieces = split.ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], pieces[i], 1e-5f);
        Assert.Equal([7, 10], split.Shape);
        Assert.False(whole.RequiresGrad);
        Assert.True(net.Training);
        Assert.False(stem.Training);
        Assert.All(net.NamedModules().Where(m => m.Name != "1"), m => Assert.True(m.Module.Training, m.Name));
        Assert.Equal(0.0, net.StateDict().First(kv => kv.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal)).Value.Item());
    }

    [Fact]
    public void PredictRefusesBadArgumentsInOneLine()
    {
        var net = Models.Create("mlp", 1, 4, 4, 3, generator: new Generator(1));
        var e = Assert.Throws<ArgumentException>(() => net.Predict(Tensor.Zeros([2, 16]), batchSize: 0));
        Assert.Equal("Predict: batchSize must be at least 1, got 0.", e.Message);
        e = Assert.Throws<ArgumentException>(() => net.Predict(Tensor.Scalar(1)));
        Assert.StartsWith("Predict: expected a batch", e.Message);
        Assert.True(net.Training); // the mode comes back after a layer's own error as well
        Assert.Throws<ArgumentException>(() => net.Predict(Tensor.Zeros([2, 3, 3])));
        Assert.True(net.Training);
        // one sample without its batch dimension is not cut into pieces of batchSize: the layer names the shape given
        var big = Models.Create("mlp", 1, 28, 28, 10, generator: new Generator(1));
        var ex = Assert.ThrowsAny<ArgumentException>(() => big.Predict(Tensor.Zeros([784])));
        Assert.Contains("[784]", ex.Message, StringComparison.Ordinal);
    }

    // a large batch of a per-sample model runs depth first: parts through the whole model, shared out among threads
    [Theory]
    [InlineData("mobilenet", 1, 28, 96, false)]
    [InlineData("mobilenet", 1, 28, 97, true)]
    [InlineData("resnet8", 1, 28, 100, true)]
    public void PredictRunsLargeBatchesOfPerSampleModelsDepthFirst(string name, int c, int h, int n, bool fuse)
    {
        using var threads = Parallelism.UseThreads(2);
        var net = Models.Create(name, c, h, h, 10, generator: new Generator(8));
        Perturb(net, new Generator(1));
        if (fuse) net.Fuse();
        var x = Tensor.Randn([n, c, h, h], new Generator(3));
        net.Eval();
        var expected = LayerByLayer(net, x);
        Assert.True(net.IsPerSample);
        int? part;
        using (Tensor.NoGrad()) part = net.DepthFirstPart(x, 256); // in evaluation mode, as Predict asks
        Assert.NotNull(part);
        Assert.InRange(part!.Value, 1, n / 4); // at least two parts a thread
        net.Train();
        var y = net.Predict(x);
        Assert.Equal([n, 10], y.Shape);
        var got = y.ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-5 * Math.Abs(expected[i]) + 1e-6, $"output {i}: depth first {got[i]}, layer by layer {expected[i]}");
        Assert.True(net.Training);
        Assert.Equal(got, net.Predict(x).ToArray()); // the same again, with the measured sample size kept
        // below the bytes threshold, with one thread or with a hook: layer by layer
        net.Eval();
        using (Tensor.NoGrad())
        {
            Assert.Null(net.DepthFirstPart(x.Slice(0, 0, 8), 256));
            using (Parallelism.UseThreads(1)) Assert.Null(net.DepthFirstPart(x, 256));
            using (net.NamedModules().Last().Module.RegisterForwardHook((_, _, _) => { })) Assert.Null(net.DepthFirstPart(x, 256));
        }
    }

    // takes the mean over the batch: not per sample, so a model holding it keeps the batch together
    private sealed class BatchCentered : Module
    {
        public override Tensor Forward(Tensor input) => input.Sub(input.Mean(0, keepDim: true));
    }

    // says it is per sample and is not: the depth-first run names it
    private sealed class BatchMean(bool perSample) : Module
    {
        public override bool IsPerSample => perSample;

        public override Tensor Forward(Tensor input) => input.Mean(0, keepDim: true);
    }

    [Fact]
    public void PredictKeepsTheBatchTogetherForALayerThatMixesSamples()
    {
        using var threads = Parallelism.UseThreads(2);
        var net = new Sequential(Models.Create("mobilenet", 1, 28, 28, 10, generator: new Generator(8)), new BatchCentered());
        Assert.False(new BatchCentered().IsPerSample); // a layer of one's own: not per sample unless it says so
        Assert.False(net.IsPerSample);
        var x = Tensor.Randn([96, 1, 28, 28], new Generator(3));
        net.Eval();
        var expected = LayerByLayer(net, x);
        Assert.Equal(expected, net.Predict(x).ToArray());
        using (Tensor.NoGrad()) Assert.Null(net.DepthFirstPart(x, 256));
    }

    // keeps its first calls' batch, then returns one row: a per-sample claim that later parts expose
    private sealed class OneRowAfter(int calls) : Module
    {
        private int _calls;

        public override bool IsPerSample => true;

        public override Tensor Forward(Tensor input) => Interlocked.Increment(ref _calls) <= calls ? input.Relu() : input.Slice(0, 0, 1).Relu();
    }

    [Fact]
    public void PredictNamesALayerThatIsNotPerSampleAfterAll()
    {
        using var threads = Parallelism.UseThreads(2);
        var x = Tensor.Zeros([160, 32, 32, 32]); // 128 KB a sample: depth first, in parts of more than one sample
        var e = Assert.Throws<InvalidOperationException>(() => new BatchMean(perSample: true).Predict(x));
        Assert.StartsWith("Predict: BatchMean is marked IsPerSample but turned ", e.Message, StringComparison.Ordinal);
        Assert.Equal([1, 32, 32, 32], new BatchMean(perSample: false).Predict(x).Shape);
        // inside a container: the layer that changed the batch is named by its path
        e = Assert.Throws<InvalidOperationException>(() => new Sequential(new ReLU(), new BatchMean(perSample: true)).Predict(x));
        Assert.StartsWith("Predict: layer '1' (BatchMean) is marked IsPerSample but turned ", e.Message, StringComparison.Ordinal);
        Assert.Contains("into an output of shape (1, 32, 32, 32)", e.Message, StringComparison.Ordinal);
        // a later part (after the two one-sample measurements and the first part) with the wrong row count
        var net = new Sequential(new ReLU(), new OneRowAfter(3));
        e = Assert.Throws<InvalidOperationException>(() => net.Predict(x));
        Assert.StartsWith("Predict: layer '1' (OneRowAfter) is marked IsPerSample but turned ", e.Message, StringComparison.Ordinal);
        Assert.True(net.Training);
    }

    [Fact]
    public void PredictNamesTheInputGivenInALayersError()
    {
        using var threads = Parallelism.UseThreads(2);
        var net = Models.Create("mobilenet", 1, 28, 28, 10, generator: new Generator(8)).Fuse();
        var e = Assert.ThrowsAny<ArgumentException>(() => net.Predict(Tensor.Zeros([96, 3, 28, 28])));
        Assert.Contains("96", e.Message, StringComparison.Ordinal); // the batch given, not the one-sample measurement's
        Assert.True(net.Training);
        Assert.Equal([96, 10], net.Predict(Tensor.Zeros([96, 1, 28, 28])).Shape); // usable after it
    }

    // two threads predicting with one model in training mode: each sees evaluation mode for the whole call, and the
    // modes come back once both end (the second call used to find them switched already and the first to restore
    // them under it, training the batch norms mid-call)
    [Fact]
    public async Task ConcurrentPredictsOnATrainingModelSeeEvaluationModeThroughout()
    {
        var net = Models.Create("resnet8", 1, 28, 28, 10, generator: new Generator(8)).Fuse();
        Perturb(net, new Generator(2));
        var before = net.StateDict().Select(kv => kv.Value.ToDoubleArray()).ToList();
        var x = Tensor.Randn([32, 1, 28, 28], new Generator(1));
        net.Eval();
        var expected = LayerByLayer(net, x);
        net.Train();
        using var together = new Barrier(2);
        float[] Call()
        {
            together.SignalAndWait(TimeSpan.FromSeconds(30)); // both start at once
            return net.Predict(x).ToArray();
        }
        for (int round = 0; round < 10; round++)
        {
            var a = Task.Run(Call);
            var b = Task.Run(Call);
            foreach (var got in await Task.WhenAll(a, b))
                for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= 1e-5 * Math.Abs(expected[i]) + 1e-6, $"round {round}, output {i}: {got[i]} against {expected[i]}");
            Assert.True(net.Training);
            Assert.All(net.NamedModules(), m => Assert.True(m.Module.Training, m.Name));
        }
        Assert.Equal(before, net.StateDict().Select(kv => kv.Value.ToDoubleArray()).ToList());
    }
}
