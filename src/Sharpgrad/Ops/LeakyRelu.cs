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
