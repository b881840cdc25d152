using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise step function: 1 where x >= 0, else 0. Its gradient is exactly zero everywhere.</summary>
    public Tensor Step()
    {
        var y = Elementwise.Map(this, default(StepKernel));
        if (NeedsGrad(this)) y.SetGradFn(new StepBackward(this));
        return y;
    }
}

// y = step(x): dx = 0 everywhere (the derivative is 0, undefined at 0): no gradient passes
internal sealed class StepBackward(Tensor x) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor g) => [Tensor.Zeros(_shape, g.DType)];
}
