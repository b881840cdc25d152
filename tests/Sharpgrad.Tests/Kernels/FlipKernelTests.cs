using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>
/// <see cref="Tensor.Flip"/>: its kernel against the element-by-element reference on every axis of several shapes
/// (rows long enough for the vectorized reverse and its scalar tail), and the op's errors and gradient.
/// </summary>
public sealed class FlipKernelTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 7, 1)]
    [InlineData(2, 37, 1)]     // a row of 37: two 16-lane registers and a tail
    [InlineData(1, 130, 1)]
    [InlineData(4, 5, 3)]
    [InlineData(2, 28, 28)]    // an image's rows
    [InlineData(5, 1, 9)]
    public void KernelEqualsReference(int outer, int n, int inner)
    {
        var rng = new Random(outer * 1000 + n * 10 + inner);
        var x = new float[outer * n * inner];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var fast = new float[x.Length];
        var plain = new float[x.Length];
        new FlipKernel(outer, n, inner).Apply<float>(x, fast);
        FlipKernel.Reference<float>(x, plain, outer, n, inner);
        Assert.Equal(plain, fast);
    }

    [Fact]
    public void FlipsAnImageBatchAlongWidthAndIsItsOwnInverse()
    {
        var x = Tensor.Arange(2 * 3 * 4 * 5, DType.Float32).Reshape(2, 3, 4, 5);
        var y = x.Flip(-1);
        Assert.Equal(new[] { 2, 3, 4, 5 }, y.Shape);
        Assert.Equal(4f, y.ToArray()[0]);
        Assert.Equal(0f, y.ToArray()[4]);
        Assert.Equal(x.ToArray(), y.Flip(3).ToArray());
        // two axes: x[i, j] -> x[1 - i, 4 - j] of a (2, 5) slice
        var m = Tensor.Arange(10, DType.Float64).Reshape(2, 5).Flip(0, 1);
        Assert.Equal(new double[] { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 }, m.ToDoubleArray());
    }

    [Fact]
    public void RejectsNoAxisARepeatedAxisAndAnAxisOutOfRange()
    {
        var x = Tensor.Zeros([2, 3]);
        Assert.Contains("Flip: expected at least one axis", Assert.Throws<ArgumentException>(() => x.Flip()).Message);
        Assert.Contains("Flip: axis -1 appears twice", Assert.Throws<ArgumentException>(() => x.Flip(1, -1)).Message);
        Assert.Contains("Flip", Assert.ThrowsAny<ArgumentException>(() => x.Flip(2)).Message);
    }
}
