using Xunit;

namespace Sharpgrad.Tests;

public sealed class TensorTests
{
    [Fact]
    public void ViewsShareStorage()
    {
        var x = Tensor.Arange(12).Reshape(3, 4);
        var t = x.Transpose();
        var s = x.Slice(1, 1, 3);
        var e = Tensor.Arange(3).Reshape(3, 1).Expand(3, 4);
        Assert.False(t.IsContiguous);
        Assert.Equal([4, 3], t.Shape);
        Assert.Equal([1, 4], t.Strides);
        Assert.Equal([1, 0], e.Strides);
        x[1, 2] = 100;
        Assert.Equal(100, t[2, 1]);
        Assert.Equal(100, s[1, 1]);
        Assert.Equal(2, e[2, 3]);
        var v = x.Reshape(2, 6);
        v[0, 0] = -1;
        Assert.Equal(-1, x[0, 0]);
        Assert.Equal([0f, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11], Tensor.Arange(12).Reshape(3, 4).Transpose().Contiguous().ToArray());
        Assert.Equal([1f, 3, 5], Tensor.Arange(7).Slice(0, 1, 7, 2).ToArray());
        Assert.Equal([6f, 5, 4], Tensor.Arange(7).Slice(0, -3, 7).ToArray().Reverse());
    }

    [Fact]
    public void ReshapeOfNonContiguousCopiesAndViewRefuses()
    {
        var t = Tensor.Arange(6).Reshape(2, 3).Transpose();
        var r = t.Reshape(6);
        Assert.Equal([0f, 3, 1, 4, 2, 5], r.ToArray());
        var ex = Assert.Throws<InvalidOperationException>(() => t.View(6));
        Assert.Contains("not contiguous", ex.Message);
        Assert.Equal([3, 2], Tensor.Zeros([6]).Reshape(3, -1).Shape);
    }

    [Fact]
    public void CreationIsSeededAndMachineIndependent()
    {
        var a = Tensor.Randn([5], new Generator(42)).ToArray();
        var b = Tensor.Randn([5], new Generator(42)).ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, Tensor.Randn([5], new Generator(43)).ToArray());
        // pinned values: the same seed gives these numbers on every machine
        var g = new Generator(2024);
        Assert.Equal(0xE48715A13D7772EUL, g.NextUInt64());
        Assert.Equal(0xC837F3EE8A7A1065UL, g.NextUInt64());
        Assert.Equal([-0.303263064678738, 0.28846173882942383, 1.3438117634372806, -0.6879751798977497],
            Tensor.Randn([4], new Generator(42), DType.Float64).ToDoubleArray());
        var u = Tensor.Uniform([1000], -2, 3, new Generator(1)).ToArray();
        Assert.All(u, v => Assert.InRange(v, -2f, 3f));
        var n = Tensor.Randn([20000], new Generator(2), DType.Float64).ToDoubleArray();
        Assert.InRange(n.Average(), -0.03, 0.03);
        Assert.InRange(Math.Sqrt(n.Select(v => v * v).Average()), 0.97, 1.03);
        Assert.Equal([0f, 0.5f, 1, 1.5f], Tensor.Arange(0, 2, 0.5).ToArray());
        Assert.Equal([2.5f, 2.5f], Tensor.Full([2], 2.5).ToArray());
    }

    [Fact]
    public void BroadcastingFollowsNumPyRules()
    {
        var a = Tensor.Arange(6).Reshape(2, 3, 1);
        var b = Tensor.Arange(4).Reshape(1, 4);
        var c = a + b;
        Assert.Equal([2, 3, 4], c.Shape);
        Assert.Equal(5 + 3, c[1, 2, 3]);
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]) + Tensor.Zeros([4]));
        Assert.Equal("Add: shapes cannot be broadcast (dimension 1: 3 vs 4): lhs [2,3], rhs [4].", ex.Message);
    }

    [Fact]
    public void LinearErrorsNameTheOpAndShapes()
    {
        var w = Tensor.Zeros([3, 5]);
        Assert.Equal("Linear: expected input with 5 features in its last dimension, got [2,4] (weight [3,5]).",
            Assert.Throws<ArgumentException>(() => Tensor.Linear(Tensor.Zeros([2, 4]), w)).Message);
        Assert.Equal("Linear: expected weight of shape (out, in), got [3,5,1] (input [2,5]).",
            Assert.Throws<ArgumentException>(() => Tensor.Linear(Tensor.Zeros([2, 5]), Tensor.Zeros([3, 5, 1]))).Message);
        Assert.Equal("Linear: expected bias of shape [3], got [5] (weight [3,5]).",
            Assert.Throws<ArgumentException>(() => Tensor.Linear(Tensor.Zeros([2, 5]), w, Tensor.Zeros([5]))).Message);
        Assert.StartsWith("Linear: dtypes differ (float32 vs float64)",
            Assert.Throws<ArgumentException>(() => Tensor.Linear(Tensor.Zeros([2, 5]), Tensor.Zeros([3, 5], DType.Float64))).Message);
        // only the bias needs a gradient: neither x nor W is kept, so writing W in place after the forward is fine
        var wb = Tensor.Randn([3, 5], new Generator(3));
        var bb = Tensor.Randn([3], new Generator(4)).RequiresGrad_();
        var yb = Tensor.Linear(Tensor.Randn([4, 5], new Generator(5)), wb, bb);
        using (Tensor.NoGrad()) wb.CopyFrom(Tensor.Zeros([3, 5]));
        yb.Sum().Backward();
        Assert.Equal([4f, 4f, 4f], bb.Grad!.ToArray());
        // no rows, no input features: an empty output, and the bias alone
        Assert.Equal([0, 3], Tensor.Linear(Tensor.Zeros([0, 5]), w).Shape);
        Assert.Equal([1f, 2f, 1f, 2f], Tensor.Linear(Tensor.Zeros([2, 0]), Tensor.Zeros([2, 0]), Tensor.FromArray([1f, 2f])).ToArray());
    }

    [Fact]
    public void ErrorsNameTheOpAndShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).MatMul(Tensor.Zeros([4, 5])));
        Assert.Equal("MatMul: inner dimensions differ (3 vs 4): lhs [2,3], rhs [4,5].", ex.Message);
        var ax = Assert.Throws<ArgumentOutOfRangeException>(() => Tensor.Zeros([2, 3]).Sum(2));
        Assert.Contains("Sum: axis 2 is out of range for a tensor of rank 2 (shape [2,3]); expected -2..1.", ax.Message);
        var nonScalar = Assert.Throws<InvalidOperationException>(() => Tensor.Zeros([2]).RequiresGrad_().Mul(2).Backward());
        Assert.Contains("Backward: gradient can be implicit only for a scalar output, got shape [2]", nonScalar.Message);
        var dt = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2]) * Tensor.Zeros([2], DType.Float64));
        Assert.Contains("Mul: dtypes differ (float32 vs float64)", dt.Message);
        var rs = Assert.Throws<ArgumentException>(() => Tensor.Zeros([6]).Reshape(4, 2));
        Assert.Contains("Reshape: shape [4,2] has 8 elements but the tensor has 6", rs.Message);
        var ce = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.CrossEntropy(Tensor.Zeros([2, 3]), [0, 3]));
        Assert.Contains("CrossEntropy: target 3 at index 1 is out of range for 3 classes", ce.Message);
        var bce = Assert.Throws<ArgumentException>(() => Losses.BinaryCrossEntropy(Tensor.Full([2], 1.5), Tensor.Zeros([2])));
        Assert.Contains("BinaryCrossEntropy: input values must be probabilities in [0, 1]", bce.Message);
        var ex2 = Assert.Throws<ArgumentException>(() => Tensor.Zeros([3]).Expand(2, 4));
        Assert.Contains("Expand: dimension 1 of size 3 cannot expand to 4", ex2.Message);
        var perm = Assert.Throws<ArgumentException>(() => Tensor.Zeros([2, 3]).Permute(0, 0));
        Assert.Contains("Permute: axis 0 appears twice", perm.Message);
    }

    [Fact]
    public void GradientsAccumulateAcrossBackwardCallsUntilZeroGrad()
    {
        var x = Tensor.FromArray([1.0, 2.0, 3.0]).RequiresGrad_();
        x.Mul(x).Sum().Backward();
        Assert.Equal([2.0, 4, 6], x.Grad!.ToDoubleArray());
        x.Mul(3).Sum().Backward();
        Assert.Equal([5.0, 7, 9], x.Grad!.ToDoubleArray());
        x.ZeroGrad();
        Assert.Null(x.Grad);
        // a tensor used twice in one graph gets both contributions
        var y = x.Mul(x).Add(x).Sum();
        y.Backward();
        Assert.Equal([3.0, 5, 7], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void ExplicitUpstreamGradientAndReleasedGraph()
    {
        var x = Tensor.FromArray([1.0, -2.0]).RequiresGrad_();
        var y = x.Mul(x);
        y.Backward(Tensor.FromArray([10.0, 1.0]), retainGraph: true);
        Assert.Equal([20.0, -4], x.Grad!.ToDoubleArray());
        y.Backward(Tensor.FromArray([1.0, 1.0]));
        Assert.Equal([22.0, -8], x.Grad!.ToDoubleArray());
        Assert.True(y.GradFn!.IsReleased);
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward(Tensor.FromArray([1.0, 1.0])));
        Assert.Contains("already released", ex.Message);
        var shape = Assert.Throws<ArgumentException>(() => x.Mul(2).Backward(Tensor.Zeros([3], DType.Float64)));
        Assert.Contains("gradient shape [3] differs from output shape [2]", shape.Message);
    }

    [Fact]
    public void NoGradAndDetachRecordNothing()
    {
        var x = Tensor.Ones([2]).RequiresGrad_();
        using (Tensor.NoGrad())
        {
            var y = x.Mul(2);
            Assert.False(y.RequiresGrad);
            Assert.Null(y.GradFn);
        }
        var d = x.Detach();
        Assert.False(d.RequiresGrad);
        Assert.True(x.Mul(2).RequiresGrad);
        Assert.Throws<InvalidOperationException>(() => x.Mul(2).RequiresGrad = false);
        // gradient flows only through the attached branch
        var z = x.Mul(x.Detach()).Sum();
        z.Backward();
        Assert.Equal([1f, 1], x.Grad!.ToArray());
    }

    [Fact]
    public void ReleasedGraphLetsTrainingLoopsRunInConstantMemory()
    {
        var w = Tensor.Randn([64, 64], new Generator(1)).RequiresGrad_();
        var x = Tensor.Randn([32, 64], new Generator(2));
        WeakReference Step()
        {
            var h = x.MatMul(w).Tanh();
            var loss = h.Mul(h).Mean();
            loss.Backward();
            w.ZeroGrad();
            return new WeakReference(h);
        }
        var refs = Enumerable.Range(0, 5).Select(_ => Step()).ToList();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.All(refs, r => Assert.False(r.IsAlive));
    }

    [Fact]
    public void ToStringIsReadable()
    {
        Assert.Equal("tensor([[0., 1., 2.],\n        [3., 4., 5.]])", Tensor.Arange(6).Reshape(2, 3).ToString());
        Assert.Equal("tensor([0.5000, -1.2500], dtype=float64, requires_grad=True)", Tensor.FromArray([0.5, -1.25]).RequiresGrad_().ToString());
        Assert.Contains("grad_fn=<MulBackward>", Tensor.Ones([1]).RequiresGrad_().Mul(2).ToString());
        Assert.Contains("...", Tensor.Zeros([2000]).ToString());
        Assert.Equal("tensor(3.)", Tensor.Scalar(3).ToString());
    }

    [Fact]
    public void Float64EndToEnd()
    {
        var x = Tensor.FromArray([0.1, 0.2, 0.3]);
        Assert.Equal(DType.Float64, x.DType);
        Assert.Equal(0.6, x.Sum().Item(), 15);
        Assert.Equal(DType.Float32, x.To(DType.Float32).DType);
        Assert.Equal([0.1f, 0.2f, 0.3f], x.To(DType.Float32).ToArray());
    }
}
