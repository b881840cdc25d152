using Sharpgrad.NN;
using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class PruningTests
{
    private static Parameter P(params float[] v) => new(Tensor.FromArray(v));

    [Fact]
    public void PerLayerAndGlobalThresholdsAreExact()
    {
        var a = P(0.5f, -0.1f, 0.3f, -0.7f);
        Pruner.Magnitude(a, 0.5);
        Assert.Equal([0.5f, 0f, 0f, -0.7f], a.Data.ToArray());
        Assert.Equal([1f, 0f, 0f, 1f], Pruner.MaskOf(a)!.ToArray());

        var b = P(0.05f, 0.9f, -0.2f);
        var c = P(-0.01f, 0.4f, 0.15f, -0.6f, 0.3f);
        double threshold = Pruner.Global([b, c], 0.5); // 8 weights, 4 smallest |w|: 0.01, 0.05, 0.15, 0.2
        Assert.Equal(0.2, threshold, 6);
        Assert.Equal([0f, 0.9f, 0f], b.Data.ToArray());
        Assert.Equal([0f, 0.4f, 0f, -0.6f, 0.3f], c.Data.ToArray());

        var d = P(0.05f, -0.5f, 0.2f);
        Pruner.MagnitudeThreshold(d, 0.2);
        Assert.Equal([0f, -0.5f, 0.2f], d.Data.ToArray());

        // pruning again to a fraction of the whole tensor counts the zeros already there
        var e = P(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        Pruner.Magnitude(e, 0.3);
        Pruner.Magnitude(e, 0.5);
        Assert.Equal(5, e.Data.ToArray().Count(v => v == 0));
        Assert.Equal(0, e.Data[4]);
        Assert.Equal(6, e.Data[5]);
    }

    [Fact]
    public void LampScoresAreLayerNormalized()
    {
        // layer a: [3, 4] -> scores 9/25, 16/16 = 1; layer b: [0.1, 0.2, 10] -> 0.01/100.05, 0.04/100.04, 1
        var a = P(3f, 4f);
        var b = P(0.1f, 0.2f, 10f);
        Pruner.Lamp([a, b], 0.4); // 2 of 5 weights: the two smallest scores, both in b
        Assert.Equal([3f, 4f], a.Data.ToArray());
        Assert.Equal([0f, 0f, 10f], b.Data.ToArray());
        Pruner.Lamp([a, b], 0.6); // next lowest: 3 in a (9/25), although 3 is far larger than 0.1
        Assert.Equal([0f, 4f], a.Data.ToArray());
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("rmsprop")]
    [InlineData("adam")]
    [InlineData("adamw")]
    public void MasksSurviveOptimizerStepsAndState(string name)
    {
        var w = new Parameter(Tensor.Randn([4, 5], new Generator(1)));
        var x = Tensor.Randn([8, 4], new Generator(2));
        Optimizer opt = name switch
        {
            "sgd" => new Sgd([w], 0.1, momentum: 0.9, weightDecay: 0.01),
            "rmsprop" => new RmsProp([w], 0.01, momentum: 0.5, centered: true),
            "adam" => new Adam([w], 0.05, weightDecay: 0.01),
            _ => new AdamW([w], 0.05, weightDecay: 0.1),
        };
        // build up optimizer state first, then prune: the state must not revive pruned weights
        for (int i = 0; i < 5; i++) Step();
        Pruner.Magnitude(w, 0.6);
        var pruned = Pruner.MaskOf(w)!.ToArray().Select((m, i) => (m, i)).Where(t => t.m == 0).Select(t => t.i).ToArray();
        Assert.Equal(12, pruned.Length);
        for (int i = 0; i < 20; i++)
        {
            Step();
            var v = w.Data.ToArray();
            Assert.All(pruned, j => Assert.Equal(0f, v[j]));
        }
        Assert.True(w.Data.ToArray().Count(v => v != 0) == 8);

        void Step()
        {
            opt.ZeroGrad();
            x.MatMul(w.Data).Sub(1).Pow(2).Mean().Backward();
            opt.Step();
        }
    }

    [Fact]
    public void StructuredPruningRemovesWholeFilters()
    {
        var conv = new Conv2d(2, 4, 3, generator: new Generator(3));
        using (Tensor.NoGrad())
        {
            // filter norms: 0 -> large, 1 -> tiny, 2 -> medium, 3 -> tiny
            float[] scale = [3f, 0.01f, 1f, 0.02f];
            var w = conv.Weight.Data.ToArray();
            for (int i = 0; i < w.Length; i++) w[i] = scale[i / 18] * (i % 2 == 0 ? 1 : -1);
            conv.Weight.Data.CopyFrom(Tensor.FromArray(w).Reshape(4, 2, 3, 3));
        }
        var removed = Pruner.Filters(conv, 0.5, FilterNorm.L2);
        Assert.Equal([1, 3], removed);
        var after = conv.Weight.Data.ToArray();
        for (int o = 0; o < 4; o++)
        {
            var f = after.Skip(o * 18).Take(18).ToArray();
            if (o is 1 or 3) Assert.All(f, v => Assert.Equal(0f, v));
            else Assert.All(f, v => Assert.NotEqual(0f, v));
        }
        Assert.Equal(0f, conv.Bias!.Data.ToArray()[1]);
        var y = conv.Forward(Tensor.Randn([1, 2, 5, 5], new Generator(4))).ToArray();
        Assert.All(y.Skip(9).Take(9), v => Assert.Equal(0f, v)); // output channel 1 is all zero
    }

    [Fact]
    public void ReportArithmetic()
    {
        var net = ExamCnn.Create(1, 28, 28, generator: new Generator(1));
        Pruner.Global(Pruner.PrunableWeights(net).Select(p => p.Parameter).ToList(), 0.8);
        var r = SparsityReport.Of(net);
        Assert.Equal(["0.weight", "4.weight", "8.weight"], r.Layers.Select(l => l.Name));
        Assert.Equal(144 + 2304 + 7840, r.Parameters);
        Assert.Equal(Pruner.CountFor(0.8, 10288), r.Parameters - r.NonZeros);
        Assert.Equal(10362, r.AllParameters);
        Assert.Equal(10362 * 4, r.DenseBytes);
        long expectSparse = (10362 - 10288) * 4 + r.Layers.Sum(l => Math.Min(4L * l.Parameters, 8L * l.NonZeros));
        Assert.Equal(expectSparse, r.SparseBytes);
        Assert.True(r.SparseBytes < r.DenseBytes / 2);
        Assert.Contains("prunable", r.ToText());
        // a long state_dict name widens the name column, so the numbers stay in their columns
        var resnet = SparsityReport.Of(Models.Create("resnet8", 1, 28, 28, 10, generator: new Generator(1)));
        var lines = resnet.ToText().Split('\n', StringSplitOptions.RemoveEmptyEntries)[..^1];
        Assert.Contains(lines, l => l.StartsWith("5.shortcut.0.weight ", StringComparison.Ordinal));
        Assert.Single(lines.Select(l => l.Length).Distinct());
        Pruner.MakePermanent(net);
        Assert.All(net.Parameters(), p => Assert.Null(Pruner.MaskOf(p)));
        Assert.Equal(r.NonZeros, SparsityReport.Of(net).NonZeros);
    }

    [Fact]
    public void CubicScheduleAndSensitivityRates()
    {
        Assert.Equal(0.8 * (1 - Math.Pow(2.0 / 3, 3)), GradualPruning.CubicSchedule(0.8, 1, 3), 12);
        Assert.Equal(0.8, GradualPruning.CubicSchedule(0.8, 3, 3), 12);

        double[] levels = [0, 0.5, 0.9];
        var s = new SensitivityResult(levels,
        [
            ("robust", 1000, [0.90, 0.90, 0.89]),
            ("fragile", 1000, [0.90, 0.70, 0.30]),
        ], 0.90);
        var rates = s.ChooseRates(0.5);
        Assert.True(rates["robust"] > rates["fragile"], $"robust {rates["robust"]}, fragile {rates["fragile"]}");
        Assert.Equal(0.5, (rates["robust"] + rates["fragile"]) / 2, 3);

        // a long state_dict name widens the name column, so the numbers stay in their columns (header included)
        var wide = new SensitivityResult(levels, [("0.weight", 144, [0.9, 0.8, 0.1]), ("5.shortcut.0.weight", 512, [0.9, 0.9, 0.5])], 0.9);
        var lines = wide.ToText().Split('\n', StringSplitOptions.RemoveEmptyEntries)[..^1];
        Assert.Contains(lines, l => l.StartsWith("5.shortcut.0.weight ", StringComparison.Ordinal));
        Assert.Single(lines.Select(l => l.Length).Distinct());
    }

    [Fact]
    public void RandomPruningReachesTheFractionOfTheWholeTensorAcrossSteps()
    {
        var p = new Parameter(Tensor.Randn([100], new Generator(1)));
        var g = new Generator(2);
        Pruner.Random(p, 0.5, g);
        Assert.Equal(50, p.Data.ToArray().Count(v => v == 0));
        Pruner.Random(p, 0.8, g);
        Assert.Equal(80, p.Data.ToArray().Count(v => v == 0));
        Pruner.Random(p, 0.8, g);
        Assert.Equal(80, p.Data.ToArray().Count(v => v == 0));
    }

    [Fact]
    public void DistillationWithZeroWeightIsCrossEntropyAndPullsTowardTheTeacher()
    {
        var teacher = ExamCnn.Create(1, 8, 8, generator: new Generator(5));
        var x = Tensor.Randn([4, 1, 8, 8], new Generator(6));
        var batch = new Sharpgrad.NN.Batch(x, [1, 2, 3, 4]);
        var logits = Tensor.Randn([4, 10], new Generator(7));
        Assert.Equal(Losses.CrossEntropy(logits, batch.Labels).Item(), GradualPruning.Distillation(logits, batch, teacher, 4, 0).Item(), 6);
        // with the teacher's own logits the distillation term's gradient vanishes: only the CE part remains
        teacher.Eval();
        Tensor t;
        using (Tensor.NoGrad()) t = teacher.Forward(x);
        var s1 = t.Detach().RequiresGrad_();
        GradualPruning.Distillation(s1, batch, teacher, 4, 1).Backward();
        Assert.All(s1.Grad!.ToArray(), v => Assert.True(Math.Abs(v) < 1e-5));
    }

    [Fact]
    public void ObdScoresAreSquaredWeightTimesMeanSquaredGradient()
    {
        var g = new Generator(11);
        var pixels = new byte[12 * 1 * 8 * 8];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)g.NextInt(256);
        var data = new Sharpgrad.NN.ImageDataset(pixels, [.. Enumerable.Range(0, 12).Select(i => i % 10)], 1, 8, 8, [.. Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))], "test");
        var loader = new Sharpgrad.NN.DataLoader(data, 4, shuffle: true, seed: 3);
        var model = ExamCnn.Create(1, 8, 8, generator: new Generator(5));
        var weights = Pruner.PrunableWeights(model).Select(w => w.Parameter).ToList();
        Pruner.Magnitude(weights[1], 0.5);
        var runningBefore = model.StateDict().ToDictionary(kv => kv.Name, kv => kv.Value.ToArray());

        var scores = Saliency.Obd(model, weights, loader, batches: 2, epoch: 7);

        // oracle: the same two batches, gradients taken one at a time in evaluation mode
        model.Eval();
        var expected = weights.Select(p => new double[p.NumElements]).ToArray();
        foreach (var batch in loader.Epoch(7).Take(2))
        {
            foreach (var p in weights) p.Grad = null;
            Losses.CrossEntropy(model.Forward(batch.Images), batch.Labels).Backward();
            for (int i = 0; i < weights.Count; i++)
            {
                var gr = weights[i].Grad!.ToDoubleArray();
                var w = weights[i].Data.ToDoubleArray();
                for (int j = 0; j < gr.Length; j++) expected[i][j] += w[j] * w[j] * gr[j] * gr[j] / 2;
            }
        }
        model.Train();
        for (int i = 0; i < weights.Count; i++)
        {
            for (int j = 0; j < expected[i].Length; j++) Assert.Equal(expected[i][j], scores[i][j], 12);
        }
        Assert.Contains(scores[2], v => v > 0);
        var pruned = weights[1].Data.ToArray();
        for (int j = 0; j < pruned.Length; j++) if (pruned[j] == 0) Assert.Equal(0, scores[1][j]); // a pruned weight scores 0
        Assert.True(model.Training); // mode restored, running statistics untouched
        foreach (var (k, v) in model.StateDict()) Assert.Equal(runningBefore[k], v.ToArray());

        // global pruning by these scores masks exactly the lowest-scored fraction
        int total = weights.Sum(p => p.NumElements);
        GradualPruning.PruneTo(model, PruneMethod.Obd, 0.7, data: loader, saliencyBatches: 2, saliencyEpoch: 7);
        int zeros = weights.Sum(p => p.Data.ToArray().Count(v => v == 0));
        Assert.Equal(Pruner.CountFor(0.7, total), zeros);
    }

    [Fact]
    public void ProximalL1SetsExactZeros()
    {
        var p = P(0.3f, -0.05f, 0.01f, -0.4f);
        new Sgd([p], lr: 0.5).ProximalL1([p], 0.2); // threshold lr * lambda = 0.1
        Assert.Equal([0.2f, 0f, 0f, -0.3f], p.Data.ToArray().Select(v => MathF.Round(v, 6)).ToArray());

        // Adam scales the threshold per element by its step size: over training, L1 leaves exact zeros, L2 does not
        int Zeros(Func<Parameter, Optimizer> make, double l1)
        {
            var w = new Parameter(Tensor.Randn([20, 3], new Generator(3)).Mul(0.3));
            var x = Tensor.Randn([64, 20], new Generator(4));
            var y = x.Narrow(1, 0, 3); // only the first 3 inputs matter
            var opt = make(w);
            for (int i = 0; i < 300; i++)
            {
                opt.ZeroGrad();
                x.MatMul(w.Data).Sub(y).Pow(2).Mean().Backward();
                opt.Step();
                if (l1 > 0) opt.ProximalL1([w], l1);
            }
            return w.Data.ToArray().Count(v => v == 0);
        }
        Assert.True(Zeros(w => new Adam([w], 0.01), 0.01) >= 30);
        Assert.Equal(0, Zeros(w => new AdamW([w], 0.01, weightDecay: 0.1), 0));
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("rmsprop")]
    [InlineData("rmsprop-centered")]
    public void ProximalL1ThresholdIsTheStepSizeOfEachWeight(string kind)
    {
        // after two steps, each weight is soft-thresholded by lr * lambda / d, d the denominator of its own step
        var p = new Parameter(Tensor.Randn([7, 5], new Generator(11)));
        Optimizer opt = kind switch
        {
            "adam" => new Adam([p], 0.01),
            "rmsprop" => new RmsProp([p], 0.01),
            _ => new RmsProp([p], 0.01, centered: true),
        };
        for (int s = 0; s < 2; s++)
        {
            opt.ZeroGrad();
            p.Data.Mul(Tensor.Randn([7, 5], new Generator(20 + (ulong)s))).Sum().Backward();
            opt.Step();
        }
        var before = p.Data.ToDoubleArray();
        var state = opt.StateDict().ToDictionary(e => e.Name, e => e.Value.ToDoubleArray());
        const double lambda = 2.0;
        opt.ProximalL1([p], lambda);
        var after = p.Data.ToDoubleArray();
        int zeros = 0;
        for (int i = 0; i < before.Length; i++)
        {
            double d = kind switch
            {
                "adam" => Math.Sqrt(state["0.exp_avg_sq"][i]) / Math.Sqrt(1 - Math.Pow(0.999, 2)) + 1e-8,
                "rmsprop" => Math.Sqrt(state["0.square_avg"][i]) + 1e-8,
                _ => Math.Sqrt(state["0.square_avg"][i] - state["0.grad_avg"][i] * state["0.grad_avg"][i]) + 1e-8,
            };
            double t = 0.01 * lambda / d;
            double expected = Math.Abs(before[i]) > t ? Math.Sign(before[i]) * (Math.Abs(before[i]) - t) : 0;
            if (expected == 0) zeros++;
            Assert.True(Math.Abs(expected - after[i]) <= 1e-5 + 1e-4 * Math.Abs(expected), $"{kind} weight {i}: expected {expected}, got {after[i]} (was {before[i]}, threshold {t})");
        }
        Assert.InRange(zeros, 1, before.Length - 1); // the case has weights on both sides of their threshold
    }
}
