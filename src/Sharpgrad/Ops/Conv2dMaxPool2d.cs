using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Convolution followed by 2x2 max pooling (stride 2, no padding) in one op, as a training step runs Conv2d ->
    /// MaxPool2d: x: (N,C,H,W), w: (OC,C,KH,KW), b: (OC)? -> (N,OC,OH/2,OW/2), OH = (H + 2 padding - KH) / stride + 1.
    /// Values and gradients are bitwise MaxPool2d(Conv2d(...), 2). The full-size convolution output lives only inside
    /// the op; where only the weight and bias need gradients (a network's first layer) the backward builds the
    /// unpooled gradient one image at a time in cache for the direct 3x3 weight-gradient kernel instead of writing
    /// and reading back the whole batch's (<see cref="Conv2dKernels.BackwardsFromMaxPool"/>).
    /// </summary>
    /// <exception cref="ArgumentException">Shapes that do not fit, or an output smaller than 2x2 (the op and the shapes named).</exception>
    public static Tensor Conv2dMaxPool2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        var g = Conv2dOp.Validate("Conv2dMaxPool2d", input, weight, bias, (stride, stride), (padding, padding));
        if (g.OH < 2 || g.OW < 2)
            throw new ArgumentException($"Conv2dMaxPool2d: the convolution's output {g.OH}x{g.OW} is smaller than the 2x2 pooling window: input {Shapes.Format(input.Dims)}, weight {Shapes.Format(weight.Dims)}.");
        bool grad = GradMode.IsEnabled && (input.RequiresGrad || weight.RequiresGrad || bias?.RequiresGrad == true);
        // x: (N,C,H,W) -> full: (N,OC,OH,OW) -> y: (N,OC,OH/2,OW/2), the window maxima's positions kept for the backward
        int n = input.Dims[0], oc = weight.Dims[0];
        var pooling = new Conv2dGeometry(oc, g.OH, g.OW, 2, 2, 2, 2, 0, 0);
        var y = Empty(input.DType, [n, oc, pooling.OH, pooling.OW]);
        var argmax = grad ? TensorScope.Rent<int>(y.NumElements) : System.Buffers.ArrayPool<int>.Shared.Rent(y.NumElements);
        if (input.DType == DType.Float32 && Conv2dKernels.PoolsInChannelConv3x3(g, oc))
        {
            // the channel kernel pools its own scratch: the full-size map is never stored
            var b = bias?.ContiguousRaw();
            Conv2dKernels.ForwardMaxPool(Conv2dOp.Data<float>(input.ContiguousRaw()), Conv2dOp.Data<float>(weight.ContiguousRaw()), b is null ? null : Conv2dOp.Data<float>(b),
                y.Array<float>(), argmax, n, oc, g, DirectConvWeights.Of(weight));
        }
        else
        {
            Tensor full;
            using (NoGrad()) full = Conv2dCore(input, weight, bias, (stride, stride), (padding, padding), relu: false);
            if (input.DType == DType.Float32) Run<float>(full, y, argmax, n * oc, pooling);
            else Run<double>(full, y, argmax, n * oc, pooling);
        }
        if (grad) y.SetGradFn(new Conv2dMaxPool2dBackward(input, weight, bias, input.ContiguousRaw(), weight.ContiguousRaw(), y, argmax, g, pooling));
        else System.Buffers.ArrayPool<int>.Shared.Return(argmax);
        return y;
    }
}

// y = maxpool2x2(conv2d(x, w) + b): dz = dy routed to each window's maximum, then the convolution's gradients of dz;
// with only dw and db wanted and the direct 3x3 weight gradient running, dz is made one image at a time inside it
internal sealed class Conv2dMaxPool2dBackward(Tensor x, Tensor w, Tensor? b, Tensor xc, Tensor wc, Tensor y, int[] argmax, Conv2dGeometry g, Conv2dGeometry pooling)
    : Node([x, w, b], xc, wc)
{
    private readonly int _n = x.Dims[0], _oc = w.Dims[0];

    internal override Tensor?[] Backward(Tensor dy)
    {
        // the argmax was rented with the output's storage (as MaxPool2d's)
        if (y.IsReleased)
            throw new ObjectDisposedException(nameof(Tensor), $"Conv2dMaxPool2dBackward: the output of shape {Shapes.Format(y.Dims)} and its argmax were released when the TensorScope that created them ended; run Backward inside that scope.");
        var d = dy.ContiguousRaw();
        bool needX = NeedsInputGrad(0), needW = NeedsInputGrad(1), needB = NeedsInputGrad(2);
        if (d.DType == DType.Float32 && !needX && needW && Conv2dKernels.BackwardsFromMaxPool(g, _oc, _n, needB))
        {
            var dw = Tensor.Empty(DType.Float32, [_oc, g.C, g.KH, g.KW]);
            var db = needB ? Tensor.Empty(DType.Float32, [_oc]) : null;
            Conv2dKernels.BackwardFromMaxPool(Conv2dOp.Data<float>(Saved(0)), Conv2dOp.Data<float>(d), argmax, dw.Array<float>(), db?.Array<float>(), _n, _oc, g);
            return [null, dw, db];
        }
        // the pooling's backward into the full-size gradient, then the convolution's (as the two ops unfused)
        var dz = MaxPool2dBackward.Unpool(d, argmax, [_n, _oc, g.OH, g.OW], pooling);
        return Conv2dBackward.Gradients(dz, Saved(0), Saved(1), g, 1, needX, needW, needB);
    }
}
