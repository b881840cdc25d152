using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Convolution followed by ReLU in one op, max(conv2d(x, w) + b, 0): x: (N,C,H,W), w: (OC,C,KH,KW) -> (N,OC,OH,OW).
    /// The ReLU is applied as the convolution stores its output (no intermediate tensor, no second pass); the
    /// result and its gradients equal Conv2d(...).Relu() exactly.
    /// </summary>
    public static Tensor Conv2dRelu(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0)
        => Conv2dCore(input, weight, bias, (stride, stride), (padding, padding), relu: true);

    /// <summary>
    /// <see cref="Conv2dRelu(Tensor, Tensor, Tensor?, int, int)"/> with a (height, width) stride and padding and
    /// channel groups, as <see cref="Conv2d(Tensor, Tensor, Tensor?, ValueTuple{int, int}, ValueTuple{int, int}, int)"/>:
    /// x: (N,C,H,W), w: (OC,C/groups,KH,KW), b: (OC) -> (N,OC,OH,OW). Equal to Conv2d(...).Relu(), values and gradients.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes that do not fit (the op and both shapes named).</exception>
    public static Tensor Conv2dRelu(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, int groups = 1)
        => Conv2dCore(input, weight, bias, stride, padding, relu: true, groups);
}

// y = max(conv2d(x, w) + b, 0): dz = dy where y > 0, then the convolution's gradients of dz
internal sealed class Conv2dReluBackward(Tensor x, Tensor w, Tensor? b, Tensor xc, Tensor wc, Tensor y, Conv2dGeometry g, int groups)
    : Node([x, w, b], xc, wc, y)
{
    internal override Tensor?[] Backward(Tensor dy)
    {
        var yv = Saved(2);
        var d = dy.ContiguousRaw();
        var dz = Tensor.EmptyLike(yv);
        if (yv.DType == DType.Float32) ReluGradKernel.Run(yv.Span<float>(), d.Span<float>(), dz.Span<float>());
        else ReluGradKernel.Run(yv.Span<double>(), d.Span<double>(), dz.Span<double>());
        return Conv2dBackward.Gradients(dz, Saved(0), Saved(1), g, groups, NeedsInputGrad(0), NeedsInputGrad(1), NeedsInputGrad(2));
    }
}
