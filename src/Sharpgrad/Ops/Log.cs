using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise natural logarithm.</summary>
    public Tensor Log()
    {
        var y = Elementwise.Map(this, default(LogKernel));
        if (NeedsGrad(this)) y.SetGradFn(new LogBackward(this));
        return y;
    }
}

// y = log(x): dx = dy / x
internal sealed class LogBackward(Tensor x) : Node([x], x)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Div(Saved(0))];
}
