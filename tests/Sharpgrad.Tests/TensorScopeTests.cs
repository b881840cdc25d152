using Xunit;

namespace Sharpgrad.Tests;

public sealed class TensorScopeTests
{
    public static TheoryData<string> Cases()
    {
        var d = new TheoryData<string>();
        foreach (var c in OpCases.All) d.Add(c.Name);
        return d;
    }

    // forward output and input gradients of one op case, copied out of any scope
    private static (float[] Y, float[]?[] Grads) Run(OpCase c, int seed)
    {
        var g = new Generator((ulong)seed);
        var inputs = c.Inputs.Select(s => OpCases.Make(s, g, DType.Float32).RequiresGrad_(s.Differentiable)).ToArray();
        var y = c.Fn(inputs);
        var yv = y.ToArray();
        y.Backward(Tensor.OnesLike(y));
        return (yv, inputs.Select(x => x.Grad?.ToArray()).ToArray());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryOpGivesBitwiseTheSameResultsOnRecycledNaNFilledStorage(string name)
    {
        var c = OpCases.All.Single(x => x.Name == name);
        var expected = Run(c, 3);
        for (int round = 0; round < 2; round++) // the second round gets the first round's arrays back
        {
            using var scope = TensorScope.BeginPoisoned();
            var got = Run(c, 3);
            Assert.Equal(expected.Y, got.Y);
            for (int i = 0; i < expected.Grads.Length; i++) Assert.Equal(expected.Grads[i], got.Grads[i]);
        }
    }

    // the fast paths (direct 3x3 convolution, vectorized pooling and batch norm, packed GEMM) at the exam CNN's sizes
    private static float[][] ExamChain()
    {
        var g = new Generator(9);
        var x = Tensor.Randn([4, 1, 28, 28], g);
        var w1 = Tensor.Randn([16, 1, 3, 3], g).RequiresGrad_();
        var b1 = Tensor.Randn([16], g).RequiresGrad_();
        var w2 = Tensor.Randn([16, 16, 3, 3], g).Mul(0.2).Detach().RequiresGrad_();
        var gamma = Tensor.Ones([16]).RequiresGrad_();
        var beta = Tensor.Zeros([16]).RequiresGrad_();
        var fc = Tensor.Randn([784, 10], g).Mul(0.05).Detach().RequiresGrad_();
        var rm = Tensor.Zeros([16]);
        var rv = Tensor.Ones([16]);
        var h = Tensor.Conv2dRelu(x, w1, b1, 1, 1).MaxPool2d(2);
        h = Tensor.BatchNorm(h, rm, rv, gamma, beta, training: true);
        h = Tensor.Conv2dRelu(h, w2, null, 1, 1).MaxPool2d(2);
        var logits = h.Reshape(4, 784).MatMul(fc);
        var loss = Losses.CrossEntropy(logits, [1, 2, 3, 4]);
        loss.Backward();
        return [logits.ToArray(), w1.Grad!.ToArray(), b1.Grad!.ToArray(), w2.Grad!.ToArray(), gamma.Grad!.ToArray(), beta.Grad!.ToArray(), fc.Grad!.ToArray(), rm.ToArray(), rv.ToArray()];
    }

    [Fact]
    public void TheExamCnnFastPathsGiveBitwiseTheSameResultsOnRecycledNaNFilledStorage()
    {
        var expected = ExamChain();
        for (int round = 0; round < 2; round++)
        {
            using var scope = TensorScope.BeginPoisoned();
            var got = ExamChain();
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], got[i]);
        }
    }

    [Fact]
    public void OutputsAndTheirViewsAreReleasedWithTheScopeAndCreationsAreNot()
    {
        var x = Tensor.Randn([64, 64], new Generator(1));
        Tensor y, view, created, kept, keptScalar;
        using (TensorScope.Begin())
        {
            y = x.Mul(2).Relu();
            view = y.Transpose(0, 1);
            created = Tensor.Zeros([64, 64]);
            kept = TensorScope.Keep(view);
            keptScalar = TensorScope.Keep(y.Sum());
            Assert.False(y.IsReleased);
        }
        Assert.Empty(keptScalar.Shape);
        Assert.Equal(x.Mul(2).Relu().Sum().Item(), keptScalar.Item());
        Assert.True(y.IsReleased);
        Assert.True(view.IsReleased);
        var e = Assert.Throws<ObjectDisposedException>(() => y.ToArray());
        Assert.Contains("[64,64]", e.Message);
        Assert.Contains("TensorScope.Keep", e.Message);
        Assert.Throws<ObjectDisposedException>(() => view.Sum());
        Assert.False(x.IsReleased);
        Assert.Equal(0, created.Sum().Item());
        Assert.Equal(x.Mul(2).Relu().Transpose(0, 1).ToArray(), kept.ToArray());
    }

    [Fact]
    public void TheNextScopeReusesTheStorage()
    {
        TensorScope.Trim();
        var x = Tensor.Randn([128, 64], new Generator(2));
        using (TensorScope.Begin()) _ = x.Exp();
        long pooled = TensorScope.PooledBytes;
        Assert.Equal(128 * 64 * 4, pooled);
        using (TensorScope.Begin())
        {
            _ = x.Exp(); // takes the array back from the pool
            Assert.Equal(0, TensorScope.PooledBytes);
            _ = x.Tanh(); // a second one of that size is new
        }
        Assert.Equal(2 * 128 * 64 * 4, TensorScope.PooledBytes);
        using (TensorScope.Begin()) _ = x.Sum(); // one element: left to the garbage collector
        Assert.Equal(2 * 128 * 64 * 4, TensorScope.PooledBytes);
        TensorScope.Trim();
        Assert.Equal(0, TensorScope.PooledBytes);
    }

    [Fact]
    public void ScopesNestAndMustBeDisposedInOrderOnTheirThread()
    {
        var x = Tensor.Randn([64, 64], new Generator(3));
        var outer = TensorScope.Begin();
        var a = x.Exp();
        var inner = TensorScope.Begin();
        var b = a.Reshape(4096); // a view of the outer scope's storage belongs to the outer scope
        var c = x.Neg();
        var e = Assert.Throws<InvalidOperationException>(outer.Dispose);
        Assert.Contains("reverse order", e.Message);
        inner.Dispose();
        Assert.True(c.IsReleased);
        Assert.False(a.IsReleased);
        Assert.False(b.IsReleased);
        InvalidOperationException? other = null;
        var thread = new Thread(() => other = Assert.Throws<InvalidOperationException>(outer.Dispose));
        thread.Start();
        thread.Join();
        Assert.Contains("another thread", other!.Message);
        outer.Dispose();
        Assert.True(a.IsReleased);
        Assert.True(b.IsReleased);
        Assert.Null(TensorScope.Current);
    }
}
