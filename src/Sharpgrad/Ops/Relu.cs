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
    internal override Tensor?[] Backward(Tensor g)
    {
        var y = Saved(0);
        var gc = g.ContiguousRaw();
        var dx = Tensor.EmptyLike(y);
        void Run(int s, int e)
        {
            if (y.DType == DType.Float32) ReluGradKernel.Run(y.Span<float>()[s..e], gc.Span<float>()[s..e], dx.Span<float>()[s..e]);
            else ReluGradKernel.Run(y.Span<double>()[s..e], gc.Span<double>()[s..e], dx.Span<double>()[s..e]);
        }
        if (y.NumElements < 1 << 16) Run(0, y.NumElements);
        else Parallelism.For(y.NumElements, (_, s, e) => Run(s, e));
        return [dx];
    }
}
