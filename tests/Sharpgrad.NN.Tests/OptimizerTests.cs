using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class OptimizerTests
{
    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (var o in Fixture.Nn.GetProperty("optimizers").EnumerateArray()) d.Add(o.GetProperty("name").GetString()!);
        return d;
    }

    private static Optimizer Make(string name, Parameter[] p) => name switch
    {
        "sgd" => new Sgd(p, lr: 0.1),
        "sgd_momentum_wd" => new Sgd(p, lr: 0.05, momentum: 0.9, weightDecay: 0.01, dampening: 0.1),
        "sgd_nesterov" => new Sgd(p, lr: 0.05, momentum: 0.9, nesterov: true),
        "rmsprop" => new RmsProp(p, lr: 0.01),
        "rmsprop_centered_momentum_wd" => new RmsProp(p, lr: 0.005, alpha: 0.9, momentum: 0.5, centered: true, weightDecay: 0.01),
        "adam" => new Adam(p, lr: 0.01),
        "adam_wd" => new Adam(p, lr: 0.01, beta1: 0.8, beta2: 0.99, weightDecay: 0.05),
        "adamw" => new AdamW(p, lr: 0.01, weightDecay: 0.1),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void MatchesPyTorchOverTwentySteps(string name)
    {
        var fx = Fixture.Nn.GetProperty("optimizers").EnumerateArray().Single(o => o.GetProperty("name").GetString() == name);
        var w = new Parameter(Tensor.FromArray(Fixture.Floats(fx.GetProperty("start").GetProperty("w"))).Reshape(5, 3));
        var b = new Parameter(Tensor.FromArray(Fixture.Floats(fx.GetProperty("start").GetProperty("b"))));
        var x = Tensor.FromArray(Fixture.Floats(fx.GetProperty("x"))).Reshape(16, 5);
        var y = Tensor.FromArray(Fixture.Floats(fx.GetProperty("y"))).Reshape(16, 3);
        var opt = Make(name, [w, b]);
        var losses = Fixture.Floats(fx.GetProperty("losses"));
        for (int step = 0; step < 20; step++)
        {
            opt.ZeroGrad();
            var loss = x.MatMul(w.Data).Add(b.Data).Tanh().Sub(y).Pow(2).Mean();
            loss.Backward();
            opt.Step();
            Assert.True(Math.Abs(losses[step] - loss.Item()) <= 1e-5 * Math.Abs(losses[step]) + 1e-7, $"{name} step {step}: loss {loss.Item()} vs {losses[step]}");
        }
        AssertRelative(name + " w", Fixture.Floats(fx.GetProperty("w")), w.Data.ToArray());
        AssertRelative(name + " b", Fixture.Floats(fx.GetProperty("b")), b.Data.ToArray());
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void VectorizedUpdateEqualsElementByElementBitwise(string name)
    {
        // a 37-element parameter (whole vectors and a tail) against 37 one-element parameters (the scalar loop only),
        // the same values and gradients for five steps, in float32 and float64: the updates are element-wise, so
        // every element must come out with the same bits
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var g = new Generator(41);
            var start = Tensor.Randn([37], g).To(dtype);
            var big = new Parameter(start.Clone());
            var small = Enumerable.Range(0, 37).Select(i => new Parameter(start.Slice(0, i, i + 1).Contiguous().Clone())).ToArray();
            var optBig = Make(name, [big]);
            var optSmall = Make(name, small);
            for (int step = 0; step < 5; step++)
            {
                var grad = Tensor.Randn([37], g).To(dtype);
                big.Grad = grad.Clone();
                for (int i = 0; i < 37; i++) small[i].Grad = grad.Slice(0, i, i + 1).Contiguous();
                optBig.Step();
                optSmall.Step();
            }
            var expected = Tensor.Cat([.. small.Select(p => p.Data)], 0).ToDoubleArray();
            var actual = big.Data.ToDoubleArray();
            for (int i = 0; i < 37; i++)
                Assert.True(expected[i].Equals(actual[i]), $"{name} {dtype} element {i}: element by element {expected[i]:R}, vectorized {actual[i]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void LargeParametersSplitOverTheThreadsWithTheSameBits(string name)
    {
        // from Optimizer.ParallelElements a parameter's update runs in parts on the kernel threads: three threads (three
        // parts, the last with a vector tail) against one, three steps, float32 and float64; each step changes the
        // parameter's version
        int n = 3 * Optimizer.ParallelElements + 37;
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            double[] Run(int threads)
            {
                using var _ = Parallelism.UseThreads(threads);
                var g = new Generator(43);
                var p = new Parameter(Tensor.Randn([n], g).To(dtype));
                var opt = Make(name, [p]);
                for (int step = 0; step < 3; step++)
                {
                    p.Grad = Tensor.Randn([n], g).To(dtype);
                    int version = p.Data.Version;
                    opt.Step();
                    Assert.True(p.Data.Version > version, $"{name} {dtype}: step {step} left the version at {version}");
                }
                return p.Data.ToDoubleArray();
            }
            var one = Run(1);
            var three = Run(3);
            for (int i = 0; i < n; i++)
                Assert.True(one[i].Equals(three[i]), $"{name} {dtype} element {i}: one thread {one[i]:R}, three {three[i]:R}");
        }
    }

    [Fact]
    public void BadHyperparametersAndGradientsAreRefused()
    {
        Parameter P() => new(Tensor.Ones([3]));
        Assert.Contains("RmsProp: weight decay must be non-negative, got -5", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp([P()], 0.1, weightDecay: -5)).Message);
        Assert.Contains("RmsProp: momentum must be non-negative, got NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new RmsProp([P()], 0.1, momentum: double.NaN)).Message);
        Assert.Contains("Sgd: momentum must be non-negative, got NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd([P()], 0.1, momentum: double.NaN)).Message);
        Assert.Contains("Sgd: weight decay must be non-negative, got NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd([P()], 0.1, weightDecay: double.NaN)).Message);
        Assert.Contains("Sgd: dampening must be in [0, 1], got NaN", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd([P()], 0.1, momentum: 0.9, dampening: double.NaN)).Message);
        var sgd = new Sgd([P()], 0.1);
        Assert.Contains("Sgd: learning rate must be non-negative, got NaN", Assert.Throws<ArgumentOutOfRangeException>(() => sgd.Lr = double.NaN).Message);
        // a gradient of another shape (9 values for 7, or a (3, 3) for a (9)) is refused, naming both shapes
        var p7 = new Parameter(Tensor.Zeros([7]));
        p7.Grad = Tensor.Ones([9]);
        Assert.Equal("Sgd: a parameter of shape [7] has a gradient of shape [9]; a gradient must have its parameter's shape.",
            Assert.Throws<InvalidOperationException>(() => new Sgd([p7], 1.0).Step()).Message);
        var p9 = new Parameter(Tensor.Zeros([9]));
        p9.Grad = Tensor.Ones([3, 3]);
        Assert.Throws<InvalidOperationException>(() => new Adam([p9]).Step());
        // a float64 gradient for a float32 parameter is refused too (as PyTorch does), naming both dtypes
        var p3 = new Parameter(Tensor.Zeros([3]));
        p3.Grad = Tensor.Ones([3]).To(DType.Float64);
        Assert.Equal("RmsProp: a float32 parameter of shape [3] has a float64 gradient; a gradient must have its parameter's dtype.",
            Assert.Throws<InvalidOperationException>(() => new RmsProp([p3], 0.1).Step()).Message);
        // every gradient is checked before anything changes: a bad one after a good one leaves the good one's
        // parameter, the optimizer's state and its step count untouched
        var good = new Parameter(Tensor.Ones([3]));
        var bad = new Parameter(Tensor.Zeros([4, 5]));
        var adam = new Adam([good, bad], 0.1);
        good.Grad = Tensor.Ones([3]);
        bad.Grad = Tensor.Ones([20]);
        Assert.Throws<InvalidOperationException>(adam.Step);
        Assert.Equal(new float[] { 1, 1, 1 }, good.Data.ToArray());
        Assert.Equal(0, adam.StepCount);
        Assert.DoesNotContain(adam.StateDict(), e => e.Name.StartsWith("0.", StringComparison.Ordinal));
        bad.Grad = Tensor.Ones([4, 5]);
        adam.Step();
        Assert.Equal(1, adam.StepCount);
        Assert.True(good.Data.ToArray().All(v => v < 1));
        // a parameter made from a transposed view holds its own contiguous copy, so the optimizers can update it
        var t = Tensor.Arange(12).Reshape(3, 4);
        var pt = new Parameter(t.Transpose());
        pt.Grad = Tensor.Ones([4, 3]);
        new Sgd([pt], 1.0).Step();
        Assert.Equal(t.Transpose().Sub(1).ToArray(), pt.Data.ToArray());
    }

    private static void AssertRelative(string what, float[] expected, float[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Abs(expected[i]) + 1e-7, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
    }

    [Theory]
    [InlineData("one_cycle_adamw")]
    [InlineData("one_cycle_sgd")]
    [InlineData("step_lr")]
    [InlineData("cosine")]
    public void SchedulesMatchPyTorch(string name)
    {
        var fx = Fixture.Nn.GetProperty("schedules").EnumerateArray().Single(o => o.GetProperty("name").GetString() == name);
        var p = new[] { new Parameter(Tensor.Zeros([1])) };
        Optimizer opt;
        LrScheduler sched;
        switch (name)
        {
            case "one_cycle_adamw":
                opt = new AdamW(p, lr: 0.01);
                sched = new OneCycleLr(opt, 0.01, 50);
                break;
            case "one_cycle_sgd":
                opt = new Sgd(p, lr: 0.1, momentum: 0.9);
                sched = new OneCycleLr(opt, 0.1, 37, pctStart: 0.25);
                break;
            case "step_lr":
                opt = new Sgd(p, lr: 0.1);
                sched = new StepLr(opt, 3, 0.5);
                break;
            default:
                opt = new Sgd(p, lr: 0.1);
                sched = new CosineAnnealingLr(opt, 10, 0.001);
                break;
        }
        var lrs = fx.GetProperty("lr").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var moms = fx.GetProperty("momentum").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        for (int i = 0; i < lrs.Length; i++)
        {
            Assert.True(Math.Abs(lrs[i] - opt.Lr) <= 1e-12 + 1e-9 * lrs[i], $"{name} step {i}: lr {opt.Lr} vs {lrs[i]}");
            if (opt.CyclicMomentum is double m) Assert.True(Math.Abs(moms[i] - m) <= 1e-12, $"{name} step {i}: momentum {m} vs {moms[i]}");
            opt.Step();
            sched.Step();
        }
    }

    [Fact]
    public void ClipGradNormScalesToTheLimit()
    {
        var a = new Parameter(Tensor.Zeros([2])) { Grad = Tensor.FromArray([3f, 0f]) };
        var b = new Parameter(Tensor.Zeros([1])) { Grad = Tensor.FromArray([4f]) };
        double norm = Regularization.ClipGradNorm([a, b], 1.0);
        Assert.Equal(5, norm, 5);
        Assert.Equal(0.6f, a.Grad!.ToArray()[0], 5);
        Assert.Equal(0.8f, b.Grad!.ToArray()[0], 5);
    }

    [Fact]
    public void L1AndL2Penalties()
    {
        var p = new Parameter(Tensor.FromArray([1f, -2f, 0.5f]));
        Assert.Equal(0.1 * 3.5, Regularization.L1([p], 0.1).Item(), 6);
        Assert.Equal(0.1 * 3.5, Regularization.L1Value([p], 0.1), 6);
        Assert.Equal(0.1 * 5.25, Regularization.L2([p], 0.1).Item(), 6);
        Regularization.L1([p], 1).Backward();
        Assert.Equal([1f, -1f, 1f], p.Grad!.ToArray());
    }
}

public sealed class InPlaceGuardTests
{
    /// <summary>
    /// Two losses share a weight; an optimizer step runs between the first loss's backward and the second's: the
    /// second backward must refuse (its MatMul saved the weight before the step), as PyTorch does.
    /// </summary>
    [Fact]
    public void AnOptimizerStepBetweenForwardAndBackwardIsRefused()
    {
        var w = new Parameter(Tensor.FromArray([0.5f, -0.25f, 1, 2], 2, 2));
        var x = Tensor.FromArray([1f, 2, 3, 4], 2, 2);
        var opt = new Sgd([w], lr: 0.1);
        var loss1 = x.MatMul(w.Data).Sum();
        var loss2 = x.MatMul(w.Data).Mul(x.MatMul(w.Data)).Sum();
        loss1.Backward();
        opt.Step();
        var ex = Assert.Throws<InvalidOperationException>(() => loss2.Backward());
        Assert.Contains("MatMulBackward", ex.Message);
        Assert.Contains("modified in place", ex.Message);

        // the usual order (forward, backward, step) is untouched
        opt.ZeroGrad();
        var loss3 = x.MatMul(w.Data).Sum();
        loss3.Backward();
        opt.Step();
        Assert.NotNull(w.Grad);
    }

    [Fact]
    public void LoadingWeightsAndPruningMasksCountAsWrites()
    {
        var p = new Parameter(Tensor.FromArray([1f, 2, 3]));
        int v = p.Data.Version;
        Pruner.SetMask(p, Tensor.FromArray([1f, 0, 1]));
        Assert.True(p.Data.Version > v);
        var lin = new Linear(2, 2);
        // the input needs a gradient, so the backward keeps the weight (dx = dy W) and must see it rewritten
        var y = lin.Forward(Tensor.Ones([1, 2]).RequiresGrad_());
        lin.LoadStateDict(new Linear(2, 2).StateDict().ToDictionary(e => e.Name, e => e.Value));
        Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
    }

    /// <summary>A box constraint written by a user: the optimizers honour any IParameterConstraint, not only pruning's.</summary>
    private sealed class ClampTo(float lo, float hi) : IParameterConstraint
    {
        public int GradientCalls { get; private set; }

        public Tensor ConstrainGradient(Parameter parameter, Tensor grad)
        {
            GradientCalls++;
            return grad;
        }

        public void Project(Parameter parameter) => parameter.Data.CopyFrom(parameter.Data.Clamp(lo, hi));
    }

    [Fact]
    public void EveryOptimizerHonoursAUsersConstraint()
    {
        foreach (var make in new Func<Parameter, Optimizer>[] { p => new Sgd([p], 1.0), p => new Adam([p], 1.0), p => new RmsProp([p], 1.0) })
        {
            var p = new Parameter(Tensor.FromArray([0.5f, -0.5f, 0f]));
            var clamp = new ClampTo(-1f, 1f);
            p.AddConstraint(clamp);
            var opt = make(p);
            for (int step = 0; step < 5; step++)
            {
                opt.ZeroGrad();
                p.Data.Mul(Tensor.FromArray([-10f, 10f, -10f])).Sum().Backward();
                opt.Step();
            }
            Assert.Equal(5, clamp.GradientCalls);
            Assert.Equal([1f, -1f, 1f], p.Data.ToArray());
            Assert.True(p.RemoveConstraint(clamp));
            Assert.Empty(p.Constraints);
        }
    }
}
