using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>The fused batch norm + ReLU op against the two ops it stands in for.</summary>
public sealed class BatchNormReluTests
{
    // the bits of a tensor's values, so that NaNs and signed zeros compare exactly
    private static long[] Bits(Tensor t) => t.DType == DType.Float32
        ? [.. t.ToArray().Select(v => (long)BitConverter.SingleToInt32Bits(v))]
        : [.. t.ToDoubleArray().Select(BitConverter.DoubleToInt64Bits)];

    [Theory]
    [InlineData(new[] { 5, 3, 7, 7 }, DType.Float32, true, true)]    // 49-pixel planes: three vectors and a tail
    [InlineData(new[] { 4, 2, 28, 28 }, DType.Float32, true, false)] // no affine parameters
    [InlineData(new[] { 9, 6 }, DType.Float32, true, true)]          // (N, C): one value per plane, the scalar path
    [InlineData(new[] { 3, 4, 21 }, DType.Float64, true, true)]
    [InlineData(new[] { 5, 3, 7, 7 }, DType.Float32, false, true)]   // evaluation mode with gradients recorded
    [InlineData(new[] { 3, 4, 21 }, DType.Float64, false, true)]
    public void EqualsBatchNormThenReluBitwiseInValuesGradientsAndStatistics(int[] shape, DType dtype, bool training, bool affine)
    {
        int c = shape[1];
        (long[] Y, long[][] Grads, long[] Mean, long[] Var) Run(bool fused)
        {
            var g = new Generator(17);
            var x = Tensor.Randn(shape, g, dtype);
            x.RequiresGrad_();
            Tensor? w = affine ? Tensor.Randn([c], g, dtype).RequiresGrad_() : null;
            Tensor? b = affine ? Tensor.Randn([c], g, dtype).RequiresGrad_() : null;
            var mean = Tensor.Randn([c], g, dtype);
            var var = Tensor.Rand([c], g, dtype).Add(0.5);
            var y = fused ? Tensor.BatchNormRelu(x, mean, var, w, b, training) : Tensor.BatchNorm(x, mean, var, w, b, training).Relu();
            var dy = Tensor.Randn(shape, new Generator(18), dtype);
            y.Mul(dy).Sum().Backward();
            Tensor?[] grads = [x.Grad, w?.Grad, b?.Grad];
            return (Bits(y), [.. grads.Where(t => t is not null).Select(t => Bits(t!))], Bits(mean), Bits(var));
        }
        var a = Run(fused: false);
        var f = Run(fused: true);
        Assert.Equal(a.Y, f.Y);
        Assert.Equal(a.Grads.Length, f.Grads.Length);
        for (int i = 0; i < a.Grads.Length; i++) Assert.Equal(a.Grads[i], f.Grads[i]);
        Assert.Equal(a.Mean, f.Mean);
        Assert.Equal(a.Var, f.Var);
        Assert.Contains(f.Y, v => v == 0); // the ReLU cut some values
    }

    [Fact]
    public void ErrorsNameTheFusedOp()
    {
        var x = Tensor.Randn([2, 3, 4, 4], new Generator(1));
        var e = Assert.Throws<ArgumentException>(() => Tensor.BatchNormRelu(x, null, null, Tensor.Ones([4]), null, training: true));
        Assert.Equal("BatchNormRelu: expected weight of shape [3], got [4] (input [2,3,4,4]).", e.Message);
        var m = Assert.Throws<InvalidOperationException>(() => Tensor.BatchNormRelu(x, null, null, null, null, training: false));
        Assert.StartsWith("BatchNormRelu: evaluation mode needs running mean and variance", m.Message);
    }

    [Fact]
    public void AWriteToBetaBetweenTheForwardAndTheBackwardChangesNothingAsForTheUnfusedPair()
    {
        // the unfused ReLU keeps its output, so its mask is the forward's; the fused backward keeps the forward's beta
        (float[] Dx, float[] Dgamma) Run(bool fused)
        {
            var x = Tensor.Randn([4, 2, 3, 3], new Generator(2)).RequiresGrad_();
            var gamma = Tensor.Ones([2]).RequiresGrad_();
            var beta = Tensor.Zeros([2]).RequiresGrad_();
            var y = fused ? Tensor.BatchNormRelu(x, null, null, gamma, beta, training: true) : Tensor.BatchNorm(x, null, null, gamma, beta, training: true).Relu();
            using (Tensor.NoGrad()) beta.CopyFrom(Tensor.Full([2], 5.0)); // a mask from this beta would pass every value
            y.Mul(Tensor.Randn([4, 2, 3, 3], new Generator(3))).Sum().Backward();
            return (x.Grad!.ToArray(), gamma.Grad!.ToArray());
        }
        var unfused = Run(fused: false);
        var fused = Run(fused: true);
        Assert.Equal(unfused.Dx, fused.Dx);
        Assert.Equal(unfused.Dgamma, fused.Dgamma);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(0.0)]
    [InlineData(-1e-5)]
    public void AnEpsThatIsNotPositiveAndFiniteIsRefused(double eps)
    {
        var x = Tensor.Randn([4, 3], new Generator(1));
        foreach (var op in new Func<Tensor>[] { () => Tensor.BatchNorm(x, null, null, null, null, true, eps: eps), () => Tensor.BatchNormRelu(x, null, null, null, null, true, eps: eps) })
            Assert.Contains("eps must be positive and finite", Assert.Throws<ArgumentOutOfRangeException>(() => op()).Message);
    }

    [Fact]
    public void AParameterOfAnotherDTypeIsNamed()
    {
        var x = Tensor.Randn([4, 3], new Generator(1));
        var e = Assert.Throws<ArgumentException>(() => Tensor.BatchNormRelu(x, null, Tensor.Ones([3], DType.Float64), Tensor.Ones([3]), null, training: true));
        Assert.Equal("BatchNormRelu: expected running variance of dtype float32 (the input's), got float64 (input [4,3]); convert one with To(DType).", e.Message);
    }
}
