using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Adaptive 2-D average pooling (torch.nn.AdaptiveAvgPool2d): x: (N,C,H,W) -> (N,C,outH,outW); output row i
    /// averages input rows floor(i H / outH) up to ceil((i + 1) H / outH) (exclusive), columns likewise, so windows
    /// may differ in size and overlap. Output (1,1) is global average pooling, the same as
    /// <c>Mean([2, 3], keepDim: true)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The input is not 4-D, or outH or outW is not positive.</exception>
    public Tensor AdaptiveAvgPool2d(int outH, int outW)
    {
        if (Rank != 4) throw new ArgumentException($"AdaptiveAvgPool2d: expected input of shape (N,C,H,W), got {Shapes.Format(Dims)}.");
        if (outH < 1 || outW < 1) throw new ArgumentException($"AdaptiveAvgPool2d: output size must be positive, got ({outH},{outW}) for input {Shapes.Format(Dims)}.");
        int planes = Dims[0] * Dims[1], h = Dims[2], w = Dims[3];
        var x = ContiguousRaw();
        var y = Empty(DType, [Dims[0], Dims[1], outH, outW]);
        DTypeDispatch.Run(x, y, new AdaptiveAvgPoolKernel(planes, h, w, outH, outW));
        if (NeedsGrad(this)) y.SetGradFn(new AdaptiveAvgPool2dBackward(this));
        return y;
    }

    /// <summary>Adaptive average pooling to a square <paramref name="outSize"/> x <paramref name="outSize"/>; see <see cref="AdaptiveAvgPool2d(int, int)"/>.</summary>
    /// <exception cref="ArgumentException">The input is not 4-D, or outSize is not positive.</exception>
    public Tensor AdaptiveAvgPool2d(int outSize) => AdaptiveAvgPool2d(outSize, outSize);
}

// y = adaptive_avg_pool(x): dx = dy / (window size) spread over each window (windows may overlap)
internal sealed class AdaptiveAvgPool2dBackward(Tensor x) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor dy)
    {
        var d = dy.ContiguousRaw();
        var dx = Tensor.Empty(d.DType, _shape);
        int planes = _shape[0] * _shape[1];
        DTypeDispatch.Run(d, dx, new AdaptiveAvgPoolGradKernel(planes, _shape[2], _shape[3], d.Dims[2], d.Dims[3]));
        return [dx];
    }
}
