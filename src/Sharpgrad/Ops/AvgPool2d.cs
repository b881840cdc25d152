using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// 2-D average pooling. x: (N,C,H,W) -> (N,C,OH,OW); stride defaults to the kernel size; padded positions count
    /// as zeros in the mean (PyTorch's count_include_pad = True).
    /// </summary>
    public Tensor AvgPool2d(int kernel, int? stride = null, int padding = 0)
    {
        int s = stride ?? kernel;
        return AvgPool2d((kernel, kernel), (s, s), (padding, padding));
    }

    /// <summary>
    /// 2-D average pooling with separate vertical and horizontal kernel, stride and padding (torch.nn.AvgPool2d with
    /// tuples and count_include_pad = True): x: (N,C,H,W) -> (N,C,OH,OW), OH = (H + 2 padding.H - kernel.H) /
    /// stride.H + 1, likewise OW; every window's sum is divided by kernel.H kernel.W.
    /// </summary>
    /// <exception cref="ArgumentException">The input is not 4-D, or the kernel, stride or padding do not fit it.</exception>
    public Tensor AvgPool2d((int H, int W) kernel, (int H, int W) stride, (int H, int W) padding)
    {
        var g = Pool2dOp.Validate("AvgPool2d", this, kernel, stride, padding);
        int planes = Dims[0] * Dims[1];
        var x = ContiguousRaw();
        var y = Empty(DType, [Dims[0], Dims[1], g.OH, g.OW]);
        if (DType == DType.Float32) PoolKernels.AvgForward(x.Span<float>(), y.Span<float>(), planes, g);
        else PoolKernels.AvgForward(x.Span<double>(), y.Span<double>(), planes, g);
        if (NeedsGrad(this)) y.SetGradFn(new AvgPool2dBackward(this, g));
        return y;
    }
}

// y = avgpool(x): dx = dy / (KH KW) spread over each window
internal sealed class AvgPool2dBackward(Tensor x, Conv2dGeometry g) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor dy)
    {
        var d = dy.ContiguousRaw();
        var dx = Tensor.Empty(d.DType, _shape);
        int planes = _shape[0] * _shape[1];
        if (d.DType == DType.Float32) PoolKernels.AvgBackward(d.Span<float>(), dx.Span<float>(), planes, g);
        else PoolKernels.AvgBackward(d.Span<double>(), dx.Span<double>(), planes, g);
        return [dx];
    }
}
