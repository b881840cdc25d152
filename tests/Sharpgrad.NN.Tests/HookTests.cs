using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class HookTests
{
    [Fact]
    public void ForwardHookFiresWithInputAndOutputAndIsRemovable()
    {
        var lin = new Linear(3, 2, generator: new Generator(1));
        var net = new Sequential(lin, new ReLU());
        var x = Tensor.Ones([4, 3]);
        var calls = new List<(Module M, int[] In, int[] Out)>();
        var handle = lin.RegisterForwardHook((m, i, o) => calls.Add((m, i.Shape, o.Shape)));
        Assert.True(lin.HasForwardHooks);
        net.Call(x);
        net.Call(x);
        Assert.Equal(2, calls.Count);
        Assert.Same(lin, calls[0].M);
        Assert.Equal(new[] { 4, 3 }, calls[0].In);
        Assert.Equal(new[] { 4, 2 }, calls[0].Out);
        handle.Dispose();
        Assert.False(lin.HasForwardHooks);
        net.Call(x);
        Assert.Equal(2, calls.Count);
    }

    [Fact]
    public void ForwardHooksFireOnFusedLayersToo()
    {
        var net = ExamCnn.Create(1, 28, 28, generator: new Generator(2));
        net.Fuse();
        var seen = new List<string>();
        var handles = net.NamedModules().Where(m => m.Name.Length > 0)
            .Select(m => m.Module.RegisterForwardHook((mod, _, _) => seen.Add(mod.TypeName))).ToList();
        net.Call(Tensor.Randn([2, 1, 28, 28], new Generator(3)).RequiresGrad_());
        Assert.Equal(net.NamedModules().Count() - 1, seen.Count);
        foreach (var h in handles) h.Dispose();
    }

    // L = sum(c * sigmoid(W x + b)): dL/da for a = Wx + b is c * s'(a); dL/dW = (dL/da)^T x
    [Fact]
    public void MonitorRecordsMeanAbsoluteGradientsAsComputedByHand()
    {
        var g = new Generator(4);
        var lin = new Linear(3, 2, generator: g);
        var net = new Sequential(lin, new Sigmoid());
        var x = Tensor.Randn([5, 3], g);
        var c = Tensor.Randn([5, 2], g);
        using var monitor = new GradientMonitor(net, (_, m) => m is Linear || m is Sigmoid);
        Assert.Equal(new[] { "0", "1" }, monitor.Layers);
        net.Call(x).Mul(c).Sum().Backward();
        var r = monitor.Record();

        var W = lin.Weight.Data.ToDoubleArray();
        var bias = lin.Bias!.Data.ToDoubleArray();
        var xv = x.ToDoubleArray();
        var cv = c.ToDoubleArray();
        var da = new double[10];
        var dW = new double[6];
        double sumDa = 0, sumC = 0;
        for (int n = 0; n < 5; n++)
            for (int o = 0; o < 2; o++)
            {
                double a = bias[o];
                for (int i = 0; i < 3; i++) a += W[o * 3 + i] * xv[n * 3 + i];
                double s = 1 / (1 + Math.Exp(-a));
                da[n * 2 + o] = cv[n * 2 + o] * s * (1 - s);
                sumDa += Math.Abs(da[n * 2 + o]);
                sumC += Math.Abs(cv[n * 2 + o]);
                for (int i = 0; i < 3; i++) dW[o * 3 + i] += da[n * 2 + o] * xv[n * 3 + i];
            }
        Assert.Equal(sumDa / 10, r.OutputGrad[0], 5);
        Assert.Equal(dW.Sum(Math.Abs) / 6, r.WeightGrad[0], 5);
        Assert.Equal(sumC / 10, r.OutputGrad[1], 5);
        Assert.True(double.IsNaN(r.WeightGrad[1])); // Sigmoid has no parameters
        Assert.True(r.OutputGrad[0] <= 0.25 * r.OutputGrad[1]);

        // no backward since the last record: NaN; after Dispose nothing is recorded
        net.ZeroGrad();
        using (Tensor.NoGrad()) net.Call(x);
        Assert.True(double.IsNaN(monitor.Record().OutputGrad[0]));
        monitor.Dispose();
        Assert.False(lin.HasForwardHooks);
        net.Call(x).Sum().Backward();
        Assert.True(double.IsNaN(monitor.Record().OutputGrad[0]));
        Assert.Equal(3, monitor.Steps.Count);
    }
}
