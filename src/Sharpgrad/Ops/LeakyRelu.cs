using System.Numerics;
using System.Runtime.Intrinsics;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Element-wise leaky ReLU: x where x &gt; 0, else <paramref name="negativeSlope"/> x (torch.nn.LeakyReLU):
    /// any shape -> the same shape. The gradient at x = 0 is <paramref name="negativeSlope"/>, as PyTorch's.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="negativeSlope"/> is NaN or infinite.</exception>
    public Tensor LeakyRelu(double negativeSlope = 0.01)
    {
        if (!double.IsFinite(negativeSlope)) throw new ArgumentException($"LeakyRelu: negativeSlope must be finite, got {negativeSlope}.", nameof(negativeSlope));
        var xc = ContiguousRaw();
        var y = Elementwise.Map(xc, new LeakyReluOp(negativeSlope));
        if (NeedsGrad(this)) y.SetGradFn(new LeakyReluBackward(this, xc, negativeSlope));
        return y;
    }
}

// y = x > 0 ? x : s x: dx = x > 0 ? dy : s dy
internal sealed class LeakyReluBackward(Tensor x, Tensor xc, double slope) : Node([x], xc)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var x = Saved(0);
        var gc = g.ContiguousRaw();
        var dx = Tensor.EmptyLike(x);
        void Run(int s, int e)
        {
            if (x.DType == DType.Float32) LeakyReluKernel.Run(x.Span<float>()[s..e], gc.Span<float>()[s..e], dx.Span<float>()[s..e], (float)slope);
            else LeakyReluKernel.Run(x.Span<double>()[s..e], gc.Span<double>()[s..e], dx.Span<double>()[s..e], slope);
        }
        // exact per element, so the split does not change the result
        if (x.NumElements < 1 << 16) Run(0, x.NumElements);
        else Parallelism.For(x.NumElements, (_, s, e) => Run(s, e));
        return [dx];
    }
}

// x: any shape -> y: same shape, y = x > 0 ? x : s x (Elementwise.Map splits large tensors over threads)
internal readonly struct LeakyReluOp(double slope) : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => LeakyReluKernel.Run(x, x, y, T.CreateTruncating(slope));
}

// x, v: (n) -> d: (n), d = x > 0 ? v : s v (forward: v = x; backward: v = dy); one pass (TensorPrimitives has no select)
internal static class LeakyReluKernel
{
    public static void Run<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> v, Span<T> d, T slope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && x.Length >= Vector512<T>.Count)
        {
            var s = Vector512.Create(slope);
            for (; i <= x.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                var xv = Vector512.Create(x.Slice(i, Vector512<T>.Count));
                var vv = Vector512.Create(v.Slice(i, Vector512<T>.Count));
                Vector512.ConditionalSelect(Vector512.GreaterThan(xv, Vector512<T>.Zero), vv, vv * s).CopyTo(d.Slice(i));
            }
        }
        else if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<T>.Count)
        {
            var s = Vector256.Create(slope);
            for (; i <= x.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var xv = Vector256.Create(x.Slice(i, Vector256<T>.Count));
                var vv = Vector256.Create(v.Slice(i, Vector256<T>.Count));
                Vector256.ConditionalSelect(Vector256.GreaterThan(xv, Vector256<T>.Zero), vv, vv * s).CopyTo(d.Slice(i));
            }
        }
        for (; i < x.Length; i++) d[i] = x[i] > T.Zero ? v[i] : v[i] * slope;
    }

    // the plain loop, kept as the oracle
    public static void Reference<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> v, Span<T> d, T slope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) d[i] = x[i] > T.Zero ? v[i] : v[i] * slope;
    }
}
