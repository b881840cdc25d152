using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise max(x, 0).</summary>
    public Tensor Relu()
    {
        var y = Elementwise.Map(this, default(ReluKernel));
        if (NeedsGrad(this)) y.SetGradFn(new ReluBackward(this, y));
        return y;
    }
}

// y = max(x, 0): dx = 0 where y <= 0, else dy (0 at x = 0 and dy at NaN, as PyTorch's threshold_backward)
internal sealed class ReluBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g) => [Elementwise.Map(Saved(0), g, default(ReluGradKernel))];
}
