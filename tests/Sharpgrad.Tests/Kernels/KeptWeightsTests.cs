using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

public sealed class DirectConvWeightsTests
{
    // the direct kernels keep a parameter's transposed weights between calls: every in-place write (AsSpan, the
    // indexer, CopyFrom: each bumps Version) must be seen by the next forward, fused or not
    [Theory]
    [InlineData(false, false)] // Conv2d (the direct kernel, relu off), a parameter
    [InlineData(true, false)]  // Conv2dReluMaxPool2d (pooled store), a parameter
    [InlineData(false, true)]  // weights marked with KeepKernelLayouts (no gradient)
    [InlineData(true, true)]
    public void KeptTransposedWeightsFollowEveryInPlaceWrite(bool fused, bool marked)
    {
        var g = new Generator(77);
        var x = Tensor.Randn([2, 8, 10, 10], g);
        var w = marked ? Tensor.Randn([16, 8, 3, 3], g).KeepKernelLayouts() : Tensor.Randn([16, 8, 3, 3], g).RequiresGrad_();
        Assert.Equal(marked, w.KeepsKernelLayouts);
        Assert.Equal(marked, w.Reshape([16, 72]).KeepsKernelLayouts); // views share the storage's mark
        Tensor Run(Tensor weight)
        {
            using var _ = Tensor.NoGrad();
            return fused ? Tensor.Conv2dReluMaxPool2d(x, weight, null, 1, 1) : Tensor.Conv2d(x, weight, null, 1, 1);
        }
        double[] Fresh() => Run(Tensor.FromArray(w.ToArray(), w.Shape)).ToDoubleArray(); // a new tensor: never cached
        Assert.Equal(Fresh(), Run(w).ToDoubleArray());
        var span = w.AsSpan<float>();
        for (int i = 0; i < span.Length; i += 3) span[i] = -span[i];
        Assert.Equal(Fresh(), Run(w).ToDoubleArray());
        using (Tensor.NoGrad()) w[5, 2, 1, 1] = 9.0;
        Assert.Equal(Fresh(), Run(w).ToDoubleArray());
        using (Tensor.NoGrad()) w.CopyFrom(Tensor.Randn([16, 8, 3, 3], g));
        Assert.Equal(Fresh(), Run(w).ToDoubleArray());
        Assert.Equal(Run(w).ToDoubleArray(), Run(w).ToDoubleArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AViewOfTheSameSizeWithOtherChannelCountsGetsItsOwnLayout(bool fused)
    {
        // the same storage, version, offset and size seen as (16,8,3,3) and as (8,16,3,3): each shape's own
        // transposed weights, in turn and again (found by a newcomer's fuzzing: the second view read the first's)
        var g = new Generator(77);
        var w1 = Tensor.Randn([16, 8, 3, 3], g).RequiresGrad_();
        var w2 = w1.Reshape([8, 16, 3, 3]).Detach(); // as a Parameter made from the view: a leaf on the same storage
        w2.RequiresGrad = true;
        Assert.True(w2.IsLeaf);
        var x8 = Tensor.Randn([1, 8, 12, 12], g);
        var x16 = Tensor.Randn([1, 16, 12, 12], g);
        using var _ = Tensor.NoGrad();
        Tensor Run(Tensor x, Tensor weight) => fused ? Tensor.Conv2dReluMaxPool2d(x, weight, null, 1, 1) : Tensor.Conv2d(x, weight, null, 1, 1);
        for (int round = 0; round < 2; round++)
        {
            Assert.Equal(Run(x8, w1.Clone()).ToDoubleArray(), Run(x8, w1).ToDoubleArray());
            Assert.Equal(Run(x16, w2.Clone()).ToDoubleArray(), Run(x16, w2).ToDoubleArray());
        }
    }
}

public sealed class LinearWeightsTests
{
    // evaluation keeps a parameter's packed W^T between calls: every in-place write must be seen by the next forward
    [Theory]
    [InlineData(false, false)] // Linear, a parameter
    [InlineData(true, false)]  // LinearRelu
    [InlineData(false, true)]  // weights marked with KeepKernelLayouts (no gradient)
    public void KeptPackedWeightsFollowEveryInPlaceWrite(bool relu, bool marked)
    {
        var g = new Generator(79);
        var x = Tensor.Randn([100, 300], g);
        var b = Tensor.Randn([70], g);
        var w = marked ? Tensor.Randn([70, 300], g).KeepKernelLayouts() : Tensor.Randn([70, 300], g).RequiresGrad_();
        Tensor Run(Tensor weight)
        {
            using var _ = Tensor.NoGrad();
            return relu ? Tensor.LinearRelu(x, weight, b) : Tensor.Linear(x, weight, b);
        }
        double[] Fresh() => Run(Tensor.FromArray(w.ToArray(), w.Shape)).ToDoubleArray(); // a new tensor: never kept
        Assert.Equal(Fresh(), Run(w).ToDoubleArray());
        var span = w.AsSpan<float>();
        for (int i = 0; i < span.Length; i += 3) span[i] = -span[i];
        Assert.Equal(Fresh(), Run(w).ToDoubleArray());
        using (Tensor.NoGrad()) w[5, 2] = 9.0;
        Assert.Equal(Fresh(), Run(w).ToDoubleArray());
        using (Tensor.NoGrad()) w.CopyFrom(Tensor.Randn([70, 300], g));
        Assert.Equal(Fresh(), Run(w).ToDoubleArray());
        Assert.Equal(Run(w).ToDoubleArray(), Run(w).ToDoubleArray());
        // recorded (training) forward packs per call: the same values
        Assert.Equal(Run(w).ToDoubleArray(), (relu ? Tensor.LinearRelu(x, w, b) : Tensor.Linear(x, w, b)).ToDoubleArray());
    }
}

public sealed class WrappedWeightsTests
{
    // an array given to Tensor.Wrap is written behind the tensor's back: no kernel keeps a layout made from it
    [Fact]
    public void WritesIntoAWrappedArrayShowInTheNextEvaluation()
    {
        var g = new Generator(83);
        var x = Tensor.Randn([64, 40], g);
        var arr = Tensor.Randn([30, 40], g).ToArray();
        var w = Tensor.Wrap(arr, 30, 40).RequiresGrad_();
        var img = Tensor.Randn([2, 8, 10, 10], g);
        var carr = Tensor.Randn([16, 8, 3, 3], g).ToArray();
        var cw = Tensor.Wrap(carr, 16, 8, 3, 3).RequiresGrad_();
        using var _ = Tensor.NoGrad();
        Assert.Equal(Tensor.LinearRelu(x, Tensor.FromArray(arr, 30, 40)).ToArray(), Tensor.LinearRelu(x, w).ToArray());
        Assert.Equal(Tensor.Conv2d(img, Tensor.FromArray(carr, 16, 8, 3, 3), null, 1, 1).ToArray(), Tensor.Conv2d(img, cw, null, 1, 1).ToArray());
        for (int i = 0; i < arr.Length; i++) arr[i] += 1f;
        for (int i = 0; i < carr.Length; i++) carr[i] = -carr[i];
        Assert.Equal(Tensor.LinearRelu(x, Tensor.FromArray(arr, 30, 40)).ToArray(), Tensor.LinearRelu(x, w).ToArray());
        Assert.Equal(Tensor.Conv2d(img, Tensor.FromArray(carr, 16, 8, 3, 3), null, 1, 1).ToArray(), Tensor.Conv2d(img, cw, null, 1, 1).ToArray());
        Assert.Null(DirectConvWeights.Of(cw));
        Assert.Null(LinearWeights.Of(w));
    }

    // what a fused model keeps (a folded batch norm: TensorScope.Keep, then KeepKernelLayouts) owns its array, so the
    // kernels keep their layouts of it; a copy made with Keep alone, or a wrapped array, gets none
    [Fact]
    public void KeptCopiesMarkedForKernelLayoutsKeepThem()
    {
        var g = new Generator(84);
        Tensor conv, linear, plain;
        using (TensorScope.Begin())
        {
            conv = TensorScope.Keep(Tensor.Randn([16, 8, 3, 3], g).Mul(2)).KeepKernelLayouts();
            linear = TensorScope.Keep(Tensor.Randn([30, 40], g).Mul(2)).KeepKernelLayouts();
            plain = TensorScope.Keep(Tensor.Randn([16, 8, 3, 3], g).Mul(2));
        }
        Assert.NotNull(DirectConvWeights.Of(conv));
        Assert.Same(DirectConvWeights.Of(conv), DirectConvWeights.Of(conv)); // made once, then kept
        Assert.NotNull(LinearWeights.Of(linear));
        Assert.Null(DirectConvWeights.Of(plain));
        Assert.Null(DirectConvWeights.Of(Tensor.Wrap(conv.ToArray(), 16, 8, 3, 3).KeepKernelLayouts()));
    }
}
