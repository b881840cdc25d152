using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Element-wise GELU in PyTorch's default exact form, x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (torch.nn.GELU()
    /// with approximate = "none"): any shape -> the same shape. Each element is computed in float64 (erf by W. J.
    /// Cody's rational approximations) and rounded once.
    /// </summary>
    public Tensor Gelu()
    {
        var xc = ContiguousRaw();
        var y = Elementwise.Map(xc, default(GeluOp));
        if (NeedsGrad(this)) y.SetGradFn(new GeluBackward(this, xc));
        return y;
    }
}

// y = x Phi(x): dx = dy (Phi(x) + x phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
internal sealed class GeluBackward(Tensor x, Tensor xc) : Node([x], xc)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var x = Saved(0);
        var gc = g.ContiguousRaw();
        var dx = Tensor.EmptyLike(x);
        void Run(int s, int e)
        {
            if (x.DType == DType.Float32) GeluKernel.Backward(x.Span<float>()[s..e], gc.Span<float>()[s..e], dx.Span<float>()[s..e]);
            else GeluKernel.Backward(x.Span<double>()[s..e], gc.Span<double>()[s..e], dx.Span<double>()[s..e]);
        }
        // exact per element, so the split does not change the result
        if (x.NumElements < 1 << 14) Run(0, x.NumElements);
        else Parallelism.For(x.NumElements, (_, s, e) => Run(s, e));
        return [dx];
    }
}
