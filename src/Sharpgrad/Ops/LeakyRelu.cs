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
    internal override Tensor?[] Backward(Tensor g) => [Elementwise.Map(Saved(0), g, new LeakyReluOp(slope))];
}
