using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>Specialised kernels against the general or plain kernels they stand in for.</summary>
public sealed class FastPathTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(1000)]
    public void ReluGradEqualsReference(int n)
    {
        var g = new Generator((ulong)n);
        var y = Enumerable.Range(0, n).Select(i => i % 5 == 0 ? 0f : (float)g.NextNormal()).ToArray();
        var d = Enumerable.Range(0, n).Select(_ => (float)g.NextNormal()).ToArray();
        float[] a = new float[n], b = new float[n];
        ReluGradKernel.Run<float>(y, d, a);
        ReluGradKernel.Reference<float>(y, d, b);
        Assert.Equal(b, a);
    }

    [Fact]
    public void MaxPool2x2EqualsGeneralKernelWithTiesAndNaN()
    {
        var gen = new Generator(9);
        var geo = new Conv2dGeometry(3, 6, 8, 2, 2, 2, 2, 0, 0);
        int planes = 6, n = planes * geo.H * geo.W;
        var x = Enumerable.Range(0, n).Select(_ => (float)gen.NextInt(4)).ToArray(); // many ties
        x[5] = float.NaN;
        x[60] = float.NaN;
        x[61] = float.NaN;
        float[] y1 = new float[planes * geo.L], y2 = new float[planes * geo.L];
        int[] a1 = new int[y1.Length], a2 = new int[y1.Length];
        PoolKernels.MaxForward<float>(x, y1, a1, planes, geo);
        PoolKernels.MaxForward2x2<float>(x, y2, a2, planes, geo);
        Assert.Equal(a1, a2);
        Assert.Equal(y1, y2);
    }
}
