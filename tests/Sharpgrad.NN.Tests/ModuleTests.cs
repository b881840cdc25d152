using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class ModuleTests
{
    [Fact]
    public void DefaultInitIsKaimingUniformWithinOneOverSqrtFanIn()
    {
        var conv = new Conv2d(16, 16, 3, generator: new Generator(1));
        double bound = 1 / Math.Sqrt(144);
        Assert.All(conv.Weight.Data.ToArray(), v => Assert.InRange(v, -bound, bound));
        Assert.All(conv.Bias!.Data.ToArray(), v => Assert.InRange(v, -bound, bound));
        Assert.True(conv.Weight.Data.ToArray().Max() > 0.8 * bound);
        var a = new Linear(10, 4, generator: new Generator(5)).Weight.Data.ToArray();
        var b = new Linear(10, 4, generator: new Generator(5)).Weight.Data.ToArray();
        Assert.Equal(a, b);
    }

    [Fact]
    public void TrainAndEvalAreExplicitAndRecursive()
    {
        var net = ExamCnn.Create(1, 28, 28, dropout: 0.5);
        Assert.True(net.Training);
        net.Eval();
        Assert.All(net.NamedModules(), m => Assert.False(m.Module.Training));
        net.Train();
        Assert.All(net.NamedModules(), m => Assert.True(m.Module.Training));
        Assert.Equal(10362, net.ParameterCount());
        Assert.Equal(32, net.BufferCount());
    }

    [Fact]
    public void DropoutScalesInTrainingAndIsIdentityInEval()
    {
        var d = new Dropout(0.25, new Generator(3));
        var x = Tensor.Ones([10000]);
        var y = d.Forward(x).ToArray();
        Assert.All(y, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.75) < 1e-6));
        Assert.InRange(y.Count(v => v == 0) / 10000.0, 0.22, 0.28);
        Assert.InRange(y.Average(), 0.97, 1.03);
        d.Eval();
        Assert.Same(x, d.Forward(x));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.5));
        Assert.All(new Dropout(1.0).Forward(Tensor.Randn([50], new Generator(1))).ToArray(), v => Assert.Equal(0f, v)); // as PyTorch: every element zeroed
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void DropoutDrawsOneUniformPerElementInOrder(DType dtype)
    {
        // the mask is u >= p ? 1 / (1 - p) : 0 with u = Rand's numbers from the same generator state
        var x = Tensor.Randn([3, 7], new Generator(2), dtype);
        var y = new Dropout(0.4, new Generator(9)).Forward(x).ToDoubleArray();
        var u = Tensor.Rand([3, 7], new Generator(9), dtype).ToDoubleArray();
        var xs = x.ToDoubleArray();
        for (int i = 0; i < y.Length; i++)
        {
            double expected = dtype == DType.Float32 ? (float)xs[i] * (u[i] >= 0.4 ? (float)(1 / 0.6) : 0f) : xs[i] * (u[i] >= 0.4 ? 1 / 0.6 : 0);
            Assert.Equal(expected, y[i]);
        }
    }

    [Fact]
    public void BatchNormCountsBatchesAndUsesRunningStatsInEval()
    {
        var bn = new BatchNorm2d(2);
        var x = Tensor.Randn([4, 2, 3, 3], new Generator(2)).Mul(3).Add(1);
        bn.Forward(x);
        bn.Forward(x);
        Assert.Equal(2, bn.NumBatchesTracked.Item());
        bn.Eval();
        var y = bn.Forward(x);
        bn.Forward(x);
        Assert.Equal(2, bn.NumBatchesTracked.Item());
        // eval output uses running statistics, so it is not zero-mean per channel
        Assert.True(Math.Abs(y.Mean([0, 2, 3]).ToArray()[0]) > 0.05);
    }

    [Fact]
    public void LoadStateDictChecksNamesAndShapes()
    {
        var net = ExamCnn.Create(1, 28, 28);
        var other = ExamCnn.Create(3, 32, 32);
        var ex = Assert.Throws<ArgumentException>(() => net.LoadStateDict(other.StateDict().ToDictionary(s => s.Name, s => s.Value)));
        Assert.Contains("'0.weight' has shape [16,3,3,3], the model expects [16,1,3,3]", ex.Message);
        var missing = net.StateDict().Where(s => s.Name != "8.bias").ToDictionary(s => s.Name, s => s.Value);
        Assert.Contains("missing tensor '8.bias'", Assert.Throws<ArgumentException>(() => net.LoadStateDict(missing)).Message);
        // another model's whole state_dict: a short line with the first names and counts, not every name
        var resnet = Models.Create("resnet8", 1, 28, 28, 10).StateDict().ToDictionary(s => s.Name, s => s.Value);
        var message = Assert.Throws<ArgumentException>(() => Models.Create("mlp", 1, 28, 28, 10).LoadStateDict(resnet)).Message;
        Assert.Matches("^LoadStateDict: [0-9]+ unexpected tensors for this Sequential \\(0\\.weight, ([^,]+, ){3}[^,]+ and [0-9]+ more\\); it lacks [0-9] of the 4 this Sequential has \\(.*\\): the weights may belong to another model\\.$", message);
        Assert.True(message.Length < 300, message);
    }
}

public sealed class SequentialFusionTests
{
    [Fact]
    public void MlpFusesLinearReluWithBitwiseTheSameValuesAndGradients()
    {
        (float[] Eval, float[] Train, float[][] Grads) Run(bool fuse)
        {
            var net = (Sequential)Models.Create("mlp", 1, 8, 8, 10, generator: new Generator(5));
            if (fuse)
            {
                net.Fuse();
                Assert.Equal(["0: Flatten", "1+2: Linear+ReLU fused", "3: Linear"], net.Plan);
            }
            var x = Tensor.Randn([33, 1, 8, 8], new Generator(6));
            net.Eval();
            float[] eval;
            using (Tensor.NoGrad()) eval = net.Forward(x).ToArray();
            net.Train();
            var y = net.Forward(x);
            Losses.CrossEntropy(y, [.. Enumerable.Range(0, 33).Select(i => i % 10)]).Backward();
            return (eval, y.ToArray(), [.. net.Parameters().Select(p => p.Grad!.ToArray())]);
        }
        var plain = Run(fuse: false);
        var fused = Run(fuse: true);
        Assert.Equal(plain.Eval, fused.Eval);
        Assert.Equal(plain.Train, fused.Train);
        Assert.Equal(plain.Grads.Length, fused.Grads.Length);
        for (int i = 0; i < plain.Grads.Length; i++) Assert.Equal(plain.Grads[i], fused.Grads[i]);
    }

    [Theory]
    [InlineData(3, 32, 32)]
    [InlineData(1, 28, 28)]
    [InlineData(2, 13, 11)] // odd sizes: the pooling drops the last row and column
    public void NoGradForwardFusesConvReluPoolAndMatchesTheUnfusedForward(int c, int hgt, int wid)
    {
        var net = ExamCnn.Create(c, hgt, wid, generator: new Generator(8));
        Assert.Equal("0: Conv2d", net.Plan[0]); // layer by layer until fused
        net.Fuse();
        const string Fused = "Conv2d+ReLU+MaxPool2d fused (pooled as the convolution stores without gradients; pooled before the ReLU while gradients are recorded)";
        Assert.Equal(["0+1+2+3: Conv2d+ReLU+MaxPool2d+BatchNorm2d fused (pooled and normalized as the convolution stores in evaluation without gradients; pooled before the ReLU while gradients are recorded)",
            $"4+5+6: {Fused}", "7: Flatten", "8: Linear"], net.Plan);
        var norm = (BatchNorm2d)net.Layers[3];
        using (Tensor.NoGrad())
        {
            // running statistics and an affine map far from the identity, so the folded scale and shift matter
            norm.RunningMean.CopyFrom(Tensor.Randn([16], new Generator(10)));
            norm.RunningVar.CopyFrom(Tensor.Rand([16], new Generator(11)).Add(0.2));
            norm.Weight!.Data.CopyFrom(Tensor.Randn([16], new Generator(12)));
            norm.Bias!.Data.CopyFrom(Tensor.Randn([16], new Generator(13)));
        }
        net.Eval();
        var x = Tensor.Randn([4, c, hgt, wid], new Generator(9));
        var h = x;
        foreach (var layer in net.Layers) h = layer.Forward(h); // layer by layer
        float[] fused, expected = h.ToArray();
        using (Tensor.NoGrad()) fused = net.Forward(x).ToArray();
        // the norm applied as one multiply-add: equal up to float rounding
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - fused[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"[{i}]: {expected[i]} vs {fused[i]}");
        // in training mode (batch statistics) the norm is not folded, and the values are bitwise those of the layers
        net.Train();
        var hb = x;
        foreach (var layer in net.Layers) hb = layer.Forward(hb);
        using (Tensor.NoGrad()) Assert.Equal(hb.ToArray(), net.Forward(x).ToArray());
    }

    [Theory]
    [InlineData("mobilenet", true)]
    [InlineData("resnet8", true)]
    [InlineData("mobilenet", false)] // evaluation mode with gradients recorded: the running statistics, nothing folded
    public void BatchNormReluRunsAsOneOpWithBitwiseTheLayersValuesGradientsAndStatistics(string name, bool training)
    {
        (float[] Out, float[][] Grads, float[][] State, float[] InputGrad) Run(bool layerByLayer)
        {
            var net = (Sequential)Models.Create(name, 1, 12, 12, 10, generator: new Generator(8));
            if (!layerByLayer)
            {
                net.Fuse();
                Assert.Equal("0+1+2: Conv2d+BatchNorm2d+ReLU: batch norm folded into the convolution, ReLU fused in evaluation without gradients", net.Plan[0]);
            }
            using (Tensor.NoGrad())
                foreach (var (pname, p) in net.NamedParameters().Where(p => p.Name.EndsWith(".bias", StringComparison.Ordinal)))
                    p.Data.CopyFrom(Tensor.Randn(p.Data.Shape, new Generator((ulong)pname.Length))); // betas away from 0: many outputs below the ReLU's kink
            net.Train(training);
            var x = Tensor.Randn([3, 1, 12, 12], new Generator(9)).RequiresGrad_();
            Tensor y = x;
            if (layerByLayer) foreach (var layer in net.Layers) y = layer.Forward(y);
            else y = net.Forward(x);
            Losses.CrossEntropy(y, [1, 4, 7]).Backward();
            return (y.ToArray(), [.. net.Parameters().Select(p => p.Grad!.ToArray())], [.. net.StateDict().Select(kv => kv.Value.ToArray())], x.Grad!.ToArray());
        }
        var a = Run(layerByLayer: true);
        var b = Run(layerByLayer: false);
        Assert.Equal(a.Out, b.Out);
        Assert.Equal(a.InputGrad, b.InputGrad);
        for (int i = 0; i < a.Grads.Length; i++) Assert.Equal(a.Grads[i], b.Grads[i]);
        for (int i = 0; i < a.State.Length; i++) Assert.Equal(a.State[i], b.State[i]);
        Assert.Contains(a.InputGrad, v => v != 0);
    }

    [Fact]
    public void ABatchOfOneValuePerChannelIsRefusedByTheLayerFusedOrNotAndCountsNoBatch()
    {
        foreach (bool fuse in new[] { false, true })
        {
            var norm = new BatchNorm1d(5);
            var net = new Sequential(new Linear(6, 5, generator: new Generator(3)), norm, new ReLU());
            if (fuse) net.Fuse();
            var e = Assert.Throws<ArgumentException>(() => net.Forward(Tensor.Randn([1, 6], new Generator(4))));
            Assert.StartsWith("BatchNorm1d: expected more than 1 value per channel when training, got input [1,5]", e.Message);
            Assert.Equal(0.0, norm.NumBatchesTracked.ToDoubleArray()[0]);
            Assert.Equal(Enumerable.Repeat(0f, 5), norm.RunningMean.ToArray());
            net.Eval();
            Assert.Equal([1, 5], net.Forward(Tensor.Randn([1, 6], new Generator(4))).Shape); // one sample is fine in evaluation
        }
    }

    [Fact]
    public void ABatchNormFollowedByReluFusesWithoutAConvolution()
    {
        (float[] Out, float[][] Grads, float[][] State) Run(bool fuse)
        {
            var net = new Sequential(new Linear(6, 5, generator: new Generator(3)), new BatchNorm1d(5), new ReLU(), new Linear(5, 2, generator: new Generator(4)));
            if (fuse)
            {
                net.Fuse();
                Assert.Equal(["0: Linear", "1+2: BatchNorm1d+ReLU fused (the ReLU applied as the norm stores; its mask recomputed from x in the backward)", "3: Linear"], net.Plan);
            }
            var x = Tensor.Randn([7, 6], new Generator(5));
            var y = net.Forward(x);
            y.Mul(y).Sum().Backward();
            return (y.ToArray(), [.. net.Parameters().Select(p => p.Grad!.ToArray())], [.. net.StateDict().Select(kv => kv.Value.ToArray())]);
        }
        var a = Run(fuse: false);
        var b = Run(fuse: true);
        Assert.Equal(a.Out, b.Out);
        for (int i = 0; i < a.Grads.Length; i++) Assert.Equal(a.Grads[i], b.Grads[i]);
        for (int i = 0; i < a.State.Length; i++) Assert.Equal(a.State[i], b.State[i]);
    }

    [Fact]
    public void TrainingForwardPoolsBeforeTheReluWithBitwiseTheSameValuesAndGradients()
    {
        // Conv -> ReLU -> MaxPool runs as Conv -> MaxPool -> ReLU when gradients are recorded
        (float[] Out, float[][] Grads, float[][] State) Run(bool layerByLayer)
        {
            var net = ExamCnn.Create(1, 12, 12, generator: new Generator(8));
            if (!layerByLayer) net.Fuse();
            var conv = (Conv2d)net.Layers[0];
            using (Tensor.NoGrad()) conv.Bias!.Data.CopyFrom(Tensor.Full([16], -0.3)); // many windows with no positive value
            var x = Tensor.Randn([3, 1, 12, 12], new Generator(9)).Sub(0.5);
            Tensor y = x;
            if (layerByLayer) foreach (var layer in net.Layers) y = layer.Forward(y);
            else y = net.Forward(x);
            Losses.CrossEntropy(y, [1, 4, 7]).Backward();
            return (y.ToArray(), [.. net.Parameters().Select(p => p.Grad!.ToArray())], [.. net.StateDict().Select(kv => kv.Value.ToArray())]);
        }
        var a = Run(layerByLayer: true);
        var b = Run(layerByLayer: false);
        Assert.Equal(a.Out, b.Out);
        for (int i = 0; i < a.Grads.Length; i++) Assert.Equal(a.Grads[i], b.Grads[i]);
        for (int i = 0; i < a.State.Length; i++) Assert.Equal(a.State[i], b.State[i]);
        Assert.Contains(a.Grads[0], v => v != 0);
    }
}
