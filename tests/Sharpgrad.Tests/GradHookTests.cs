using Xunit;

namespace Sharpgrad.Tests;

public sealed class GradHookTests
{
    // y = sigmoid(z), z = x * w, L = sum(y * c): dL/dy = c, dL/dz = c * s(z)(1 - s(z))
    [Fact]
    public void HookSeesTheGradientOfAComputedTensorAsComputedByHand()
    {
        var w = Tensor.FromArray(new double[] { 0.5, -2, 3 }, 3).RequiresGrad_();
        var x = Tensor.FromArray(new double[] { 1, 0.25, -1 }, 3);
        var c = Tensor.FromArray(new double[] { 1, 2, -3 }, 3);
        var z = x.Mul(w);
        var y = z.Sigmoid();
        double[]? seenY = null, seenZ = null, seenW = null;
        using var hy = y.RegisterHook(g => seenY = g.ToDoubleArray());
        using var hz = z.RegisterHook(g => seenZ = g.ToDoubleArray());
        using var hw = w.RegisterHook(g => seenW = g.ToDoubleArray());
        y.Mul(c).Sum().Backward();
        Assert.Equal(new double[] { 1, 2, -3 }, seenY);
        double[] zv = [0.5, -0.5, -3];
        for (int i = 0; i < 3; i++)
        {
            double s = 1 / (1 + Math.Exp(-zv[i]));
            double dz = c[i] * s * (1 - s);
            Assert.Equal(dz, seenZ![i], 12);
            Assert.Equal(dz * x[i], seenW![i], 12);
            Assert.True(Math.Abs(seenZ[i]) <= 0.25 * Math.Abs(seenY![i])); // sigma' <= 1/4
        }
        Assert.Equal(seenW, w.Grad!.ToDoubleArray());
    }

    [Fact]
    public void HookGetsTheTotalOverEveryUseAndIsRemovable()
    {
        var a = Tensor.FromArray(new double[] { 2, 3 }, 2).RequiresGrad_();
        var b = a.Mul(a); // b used twice below: dL/db = 1 + 2 = 3 per element
        int calls = 0;
        double[]? seen = null;
        var handle = b.RegisterHook(g => { calls++; seen = g.ToDoubleArray(); });
        b.Add(b.Mul(Tensor.FromArray(new double[] { 2, 2 }, 2))).Sum().Backward(retainGraph: true);
        Assert.Equal(1, calls);
        Assert.Equal(new double[] { 3, 3 }, seen);
        handle.Dispose();
        a.ZeroGrad();
        b.Sum().Backward();
        Assert.Equal(1, calls);
    }

    [Fact]
    public void RetainGradKeepsANonLeafGradientAndRefusesTensorsWithoutGrad()
    {
        var a = Tensor.FromArray(new double[] { 1, -1 }, 2).RequiresGrad_();
        var h = a.Mul(Tensor.FromArray(new double[] { 3, 4 }, 2));
        Assert.False(h.RetainsGrad);
        h.RetainGrad();
        Assert.True(h.RetainsGrad);
        var unretained = h.Relu();
        unretained.Mul(Tensor.FromArray(new double[] { 5, 5 }, 2)).Sum().Backward();
        Assert.Equal(new double[] { 5, 0 }, h.Grad!.ToDoubleArray());
        Assert.Null(unretained.Grad);
        Assert.Throws<InvalidOperationException>(() => Tensor.FromArray(new double[] { 1 }, 1).RegisterHook(_ => { }));
    }
}
