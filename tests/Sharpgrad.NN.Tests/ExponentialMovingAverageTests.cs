using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class ExponentialMovingAverageTests
{
    // Linear(3, 2) -> BatchNorm1d(2): weight, bias, BN weight, bias, running mean, variance and the counter
    private static Sequential Model() => new(new Linear(3, 2, generator: new Generator(7)), new BatchNorm1d(2));

    // every tensor of the model's state_dict set to start + k * (its index + 1) per element, the counter to k
    private static void SetAll(Module model, float start, float k)
    {
        var state = new Dictionary<string, Tensor>();
        int i = 0;
        foreach (var (name, value) in model.StateDict())
        {
            i++;
            state[name] = name.EndsWith("num_batches_tracked", StringComparison.Ordinal)
                ? Tensor.Scalar(k, DType.Float64)
                : Tensor.Full(value.Shape, start + k * i, value.DType);
        }
        model.LoadStateDict(state);
    }

    private static float[] Of(Module model, string name) => model.StateDict().Single(s => s.Name == name).Value.ToArray();

    [Fact]
    public void WithConstantWeightsTheAverageIsTheWeights()
    {
        var model = Model();
        var ema = new ExponentialMovingAverage(model, 0.99);
        var before = model.StateDict().ToDictionary(s => s.Name, s => s.Value.ToArray());
        for (int n = 0; n < 50; n++) ema.Update();
        Assert.Equal(50, ema.NumUpdates);
        var averages = ema.Averages();
        foreach (var (name, values) in before) Assert.Equal(values, averages[name].ToArray());
    }

    [Fact]
    public void EachUpdateIsTheLerpOfPyTorchsEma()
    {
        const double decay = 0.9;
        var model = Model();
        var ema = new ExponentialMovingAverage(model, decay);
        SetAll(model, 1, 0);
        ema.Update(); // the first update copies (AveragedModel's n_averaged = 0)
        Assert.Equal(1f, ema.Averages()["0.weight"].ToArray()[0]);
        SetAll(model, 1, 1);
        ema.Update();
        SetAll(model, 1, 2);
        ema.Update();
        var a = ema.Averages();
        float t = (float)(1 - decay);
        int i = 0;
        foreach (var (name, _) in model.StateDict())
        {
            i++;
            if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            {
                Assert.Equal(2.0, a[name].Item()); // a counter is copied, not averaged
                continue;
            }
            // float arithmetic in the order torch.lerp(avg, w, 1 - decay) uses: avg + t (w - avg)
            float avg = 1f;
            avg += t * (1f + 1 * i - avg);
            avg += t * (1f + 2 * i - avg);
            Assert.All(a[name].ToArray(), v => Assert.Equal(avg, v));
            Assert.NotEqual(1f + 2 * i, avg);
        }
    }

    [Fact]
    public void WithoutUseBuffersTheRunningStatisticsAreCopied()
    {
        var model = Model();
        var ema = new ExponentialMovingAverage(model, 0.5, useBuffers: false);
        SetAll(model, 0, 1);
        ema.Update();
        SetAll(model, 0, 3);
        ema.Update();
        var a = ema.Averages();
        Assert.Equal(Of(model, "1.running_mean"), a["1.running_mean"].ToArray());
        Assert.Equal(Of(model, "1.running_var"), a["1.running_var"].ToArray());
        Assert.All(a["1.weight"].ToArray(), v => Assert.Equal(6f, v)); // state_dict index 3: 3, then 9, averaged: 3 + 0.5 (9 - 3)
    }

    [Fact]
    public void WarmupFollowsTensorFlowsNumUpdates()
    {
        var ema = new ExponentialMovingAverage(Model(), 0.999, warmup: true);
        Assert.Equal(0, ema.CurrentDecay);
        ema.Update();
        Assert.Equal(2.0 / 11, ema.CurrentDecay);
        for (int n = 1; n < 9000; n++) ema.Update();
        Assert.Equal(0.999, ema.CurrentDecay);
        var plain = new ExponentialMovingAverage(Model(), 0.9);
        plain.Update();
        Assert.Equal(0.9, plain.CurrentDecay);
    }

    [Fact]
    public void ApplyPutsTheAveragesInAndGivesTheModelBackItsOwn()
    {
        var model = Model();
        var ema = new ExponentialMovingAverage(model, 0.5);
        SetAll(model, 0, 2);
        ema.Update();
        SetAll(model, 0, 4);
        ema.Update();
        var own = model.StateDict().ToDictionary(s => s.Name, s => s.Value.ToArray());
        using (ema.Apply())
        {
            Assert.All(Of(model, "0.weight"), v => Assert.Equal(3f, v));
            Assert.Equal(ema.Averages()["1.running_var"].ToArray(), Of(model, "1.running_var"));
        }
        foreach (var (name, values) in own) Assert.Equal(values, Of(model, name));
        ema.CopyTo();
        Assert.All(Of(model, "0.weight"), v => Assert.Equal(3f, v));
    }

    [Fact]
    public void StateDictRoundTripsAndIsChecked()
    {
        var model = Model();
        var ema = new ExponentialMovingAverage(model, 0.9);
        SetAll(model, 0, 1);
        ema.Update();
        SetAll(model, 0, 2);
        ema.Update();
        var state = ema.StateDict().ToDictionary(s => s.Name, s => s.Value.Contiguous(force: true));
        Assert.Contains("module.0.weight", state.Keys);
        Assert.Equal(2.0, state["n_averaged"].Item());

        var other = new ExponentialMovingAverage(Model(), 0.9);
        other.LoadStateDict(state);
        Assert.Equal(2, other.NumUpdates);
        foreach (var (name, value) in ema.Averages()) Assert.Equal(value.ToArray(), other.Averages()[name].ToArray());

        var bad = new Dictionary<string, Tensor>(state) { ["module.0.bias"] = Tensor.Zeros([3]) };
        Assert.Contains("'module.0.bias' has shape [3]", Assert.Throws<ArgumentException>(() => other.LoadStateDict(bad)).Message, StringComparison.Ordinal);
        var missing = new Dictionary<string, Tensor>(state);
        missing.Remove("n_averaged");
        Assert.Contains("'n_averaged' is missing", Assert.Throws<ArgumentException>(() => other.LoadStateDict(missing)).Message, StringComparison.Ordinal);
        var extra = new Dictionary<string, Tensor>(state) { ["module.9.weight"] = Tensor.Zeros([1]) };
        Assert.Contains("unexpected tensor 'module.9.weight'", Assert.Throws<ArgumentException>(() => other.LoadStateDict(extra)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void RefusesADecayOutsideZeroToOne(double decay)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ExponentialMovingAverage(Model(), decay));
        Assert.Contains("decay must be in [0, 1)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainEpochUpdatesTheAverageAfterEveryStep()
    {
        var gen = new Generator(3);
        var x = Tensor.Randn([64, 4], gen);
        var labels = Enumerable.Range(0, 64).Select(i => i % 3).ToArray();
        var model = new Sequential(new Linear(4, 3, generator: gen));
        var loader = new DataLoader(new TensorDataset(x, labels, 3), 16, shuffle: false);
        var opt = new Sgd(model.Parameters(), 0.1);
        var ema = new ExponentialMovingAverage(model, 0.5);
        var start = Of(model, "0.weight");
        TrainingLoop.TrainEpoch(model, loader, opt, null, 0, 1, ema: ema);
        Assert.Equal(4, ema.NumUpdates);
        Assert.NotEqual(start, ema.Averages()["0.weight"].ToArray());
        Assert.NotEqual(Of(model, "0.weight"), ema.Averages()["0.weight"].ToArray());
    }
}
