using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Convolution, ReLU and 2x2 max pooling (stride 2, no padding, floor) in one op:
    /// max_pool2d(relu(conv2d(x, w, b, stride, padding)), 2). x: (N,C,H,W), w: (OC,C,KH,KW), b: (OC)? ->
    /// (N,OC,OH/2,OW/2), OH and OW the convolution's output size. When no gradient is recorded and the direct
    /// kernels run the convolution (float32, 3x3, stride 1 or 2, padding 1, a multiple of 8 filters, vector
    /// registers; or stride 1 with C KH KW at most 160 and OW at most 32 on 512-bit registers) the pooling happens as
    /// the convolution leaves its registers and the full-size output is never stored; otherwise it is the three ops
    /// one after another (gradients flow as through them). Either way the values
    /// are those of the three ops, bit for bit (the same multiply-adds in the same order; max is exact).
    /// </summary>
    /// <param name="input">x: (N,C,H,W).</param>
    /// <param name="weight">w: (OC,C,KH,KW).</param>
    /// <param name="bias">b: (OC), or null.</param>
    /// <param name="stride">The convolution's stride (both axes).</param>
    /// <param name="padding">The convolution's zero padding (both sides, both axes).</param>
    /// <param name="affine">When given, a per-channel (OC) scale and shift applied after the pooling,
    /// y * scale[c] + shift[c] (an evaluation-mode batch norm, as <c>Module.ChannelAffine</c> gives it), in the same
    /// store.</param>
    /// <exception cref="ArgumentException">Shapes that do not fit (the op and both shapes named), a scale or shift
    /// that is not one value per output channel, or a convolution output smaller than the 2x2 pooling window (checked
    /// before any work).</exception>
    /// <exception cref="ArgumentNullException">A null input or weight, or an affine map missing its scale or shift.</exception>
    public static Tensor Conv2dReluMaxPool2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, (Tensor Scale, Tensor Shift)? affine = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        const string Op = "Conv2dReluMaxPool2d";
        var g = Conv2dOp.Validate(Op, input, weight, bias, (stride, stride), (padding, padding));
        int n = input.Dims[0], oc = weight.Dims[0];
        if (g.OH < 2 || g.OW < 2)
            throw new ArgumentException($"{Op}: the convolution's output {g.OH}x{g.OW} is smaller than the 2x2 pooling window: input {Shapes.Format(input.Dims)}, weight {Shapes.Format(weight.Dims)}, stride {stride}, padding {padding}.");
        if (affine is var (sc, sh))
        {
            if (sc is null || sh is null) throw new ArgumentNullException(nameof(affine), $"{Op}: the affine map needs both a scale and a shift.");
            foreach (var t in (Tensor[])[sc, sh])
                if (t.Rank != 1 || t.Dims[0] != oc || t.DType != input.DType)
                    throw new ArgumentException($"Conv2dReluMaxPool2d: expected a scale and shift of shape [{oc}] and {input.DType.Name()}, got {Shapes.Format(t.Dims)} {t.DType.Name()} (weight {Shapes.Format(weight.Dims)}).");
        }
        bool record = GradMode.IsEnabled && (input.RequiresGrad || weight.RequiresGrad || bias?.RequiresGrad == true
            || affine?.Scale.RequiresGrad == true || affine?.Shift.RequiresGrad == true);
        if (record || input.DType != DType.Float32 || !Conv2dKernels.FusesReluMaxPool(g, oc, 1))
        {
            var pooled = Conv2dRelu(input, weight, bias, stride, padding).MaxPool2d(2);
            return affine is var (scale, shift) ? pooled.Mul(scale.Reshape([oc, 1, 1])).Add(shift.Reshape([oc, 1, 1])) : pooled;
        }
        // x: (N,C,H,W), w: (OC,C,3,3) -> (N,OC,OH/2,OW/2)
        var x = input.ContiguousRaw();
        var w = weight.ContiguousRaw();
        var b = bias?.ContiguousRaw();
        var y = Empty(DType.Float32, [n, oc, g.OH / 2, g.OW / 2]);
        Conv2dKernels.ForwardReluMaxPool(Conv2dOp.Data<float>(x), Conv2dOp.Data<float>(w), b is null ? null : Conv2dOp.Data<float>(b), y.Array<float>(), n, oc, g,
            affine is null ? null : Conv2dOp.Data<float>(affine.Value.Scale.ContiguousRaw()), affine is null ? null : Conv2dOp.Data<float>(affine.Value.Shift.ContiguousRaw()),
            Conv2dKernels.PoolsWithTransposedWeights(g, oc) ? DirectConvWeights.Of(weight) : null);
        return y;
    }
}
