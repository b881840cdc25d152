using System.Numerics;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// 2-D convolution (cross-correlation, as PyTorch). x: (N,C,H,W), weight: (OC,C/groups,KH,KW), bias: (OC) or null
    /// -> (N,OC,OH,OW) with OH = (H + 2 padding - KH) / stride + 1 (KH and KW may differ).
    /// </summary>
    /// <param name="input">(N,C,H,W).</param>
    /// <param name="weight">(OC,C/groups,KH,KW).</param>
    /// <param name="bias">(OC), or null for none.</param>
    /// <param name="stride">Step of the window, both axes.</param>
    /// <param name="padding">Zeros added on each side, both axes.</param>
    /// <param name="groups">Channel groups: input channels [g C/groups, (g+1) C/groups) feed only output channels
    /// [g OC/groups, (g+1) OC/groups); groups = C is a depthwise convolution (torch.nn.functional.conv2d's groups).</param>
    /// <exception cref="ArgumentException">Ranks, channels, groups (C or OC not divisible by groups), bias shape,
    /// stride, padding or a kernel larger than the padded input do not fit; the message names the op and both shapes.</exception>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias = null, int stride = 1, int padding = 0, int groups = 1) =>
        Conv2d(input, weight, bias, (stride, stride), (padding, padding), groups);

    /// <summary>
    /// 2-D convolution with separate vertical and horizontal stride and padding: x: (N,C,H,W), weight:
    /// (OC,C/groups,KH,KW), bias: (OC) or null -> (N,OC,OH,OW) with OH = (H + 2 padding.H - KH) / stride.H + 1 and
    /// OW = (W + 2 padding.W - KW) / stride.W + 1.
    /// </summary>
    /// <param name="input">(N,C,H,W).</param>
    /// <param name="weight">(OC,C/groups,KH,KW).</param>
    /// <param name="bias">(OC), or null for none.</param>
    /// <param name="stride">(vertical, horizontal) step of the window.</param>
    /// <param name="padding">(vertical, horizontal) zeros added on each side.</param>
    /// <param name="groups">Channel groups, as in <see cref="Conv2d(Tensor, Tensor, Tensor?, int, int, int)"/>.</param>
    /// <exception cref="ArgumentException">The shapes, groups, stride or padding do not fit; the message names the op and both shapes.</exception>
    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, int groups = 1) =>
        Conv2dCore(input, weight, bias, stride, padding, relu: false, groups);

    internal static Tensor Conv2dCore(Tensor input, Tensor weight, Tensor? bias, (int H, int W) stride, (int H, int W) padding, bool relu, int groups = 1)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        var g = Conv2dOp.Validate(relu ? "Conv2dRelu" : "Conv2d", input, weight, bias, stride, padding, groups);
        int n = input.Dims[0], oc = weight.Dims[0];
        var x = input.ContiguousRaw();
        var w = weight.ContiguousRaw();
        var b = bias?.ContiguousRaw();
        var y = Empty(input.DType, [n, oc, g.OH, g.OW]);
        // the kernel layer chooses the algorithm (direct 3x3, depthwise, 1x1, im2col + GEMM)
        if (input.DType == DType.Float32)
            Conv2dKernels.Forward(Conv2dOp.Data<float>(x), Conv2dOp.Data<float>(w), b is null ? null : Conv2dOp.Data<float>(b), y.Array<float>(), n, oc, g, groups, relu,
                Conv2dKernels.UsesTransposedWeights(g, oc, groups) ? DirectConvWeights.Of(weight) : null);
        else Conv2dKernels.Forward(Conv2dOp.Data<double>(x), Conv2dOp.Data<double>(w), b is null ? null : Conv2dOp.Data<double>(b), y.Array<double>(), n, oc, g, groups, relu);
        if (GradMode.IsEnabled && (input.RequiresGrad || weight.RequiresGrad || bias?.RequiresGrad == true))
            y.SetGradFn(relu ? new Conv2dReluBackward(input, weight, bias, x, w, y, g, groups) : new Conv2dBackward(input, weight, bias, x, w, g, groups));
        return y;
    }
}

internal static class Conv2dOp
{
    public static Conv2dGeometry Validate(Tensor x, Tensor w, Tensor? b, (int H, int W) stride, (int H, int W) padding, int groups = 1)
        => Validate("Conv2d", x, w, b, stride, padding, groups);

    // op: the name the messages start with (an op built on the convolution names itself)
    public static Conv2dGeometry Validate(string op, Tensor x, Tensor w, Tensor? b, (int H, int W) stride, (int H, int W) padding, int groups = 1)
    {
        // shapes are formatted only inside a message (formatting them on every call cost a step ~10 KB of strings)
        Tensor.CheckSameDType(op, x, w);
        if (b is not null) Tensor.CheckSameDType(op, x, b);
        if (x.Rank != 4) throw new ArgumentException($"{op}: expected input of shape (N,C,H,W), got {Shapes.Format(x.Dims)}.");
        if (w.Rank != 4) throw new ArgumentException($"{op}: expected weight of shape (OC,C,KH,KW), got {Shapes.Format(w.Dims)}.");
        if (groups < 1) throw new ArgumentException($"{op}: groups must be positive, got {groups}: input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        if (groups == 1 && x.Dims[1] != w.Dims[1]) throw new ArgumentException($"{op}: input channels differ ({x.Dims[1]} vs {w.Dims[1]}): input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        if (x.Dims[1] % groups != 0)
            throw new ArgumentException($"{op}: input channels ({x.Dims[1]}) are not divisible by groups ({groups}): input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        if (w.Dims[0] % groups != 0)
            throw new ArgumentException($"{op}: output channels ({w.Dims[0]}) are not divisible by groups ({groups}): input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        if (x.Dims[1] / groups != w.Dims[1])
            throw new ArgumentException($"{op}: weight expects {w.Dims[1]} input channels per group, but {x.Dims[1]} channels in {groups} groups give {x.Dims[1] / groups}: input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        if (b is not null && (b.Rank != 1 || b.Dims[0] != w.Dims[0]))
            throw new ArgumentException($"{op}: expected bias of shape [{w.Dims[0]}], got {Shapes.Format(b.Dims)} (weight {Shapes.Format(w.Dims)}).");
        if (w.Dims[2] < 1 || w.Dims[3] < 1)
            throw new ArgumentException($"{op}: expected a kernel of at least 1x1, got {w.Dims[2]}x{w.Dims[3]}: input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        if (stride.H < 1 || stride.W < 1) throw new ArgumentException($"{op}: stride must be positive, got ({stride.H},{stride.W}): input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        if (padding.H < 0 || padding.W < 0) throw new ArgumentException($"{op}: padding must be non-negative, got ({padding.H},{padding.W}): input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        var g = new Conv2dGeometry(x.Dims[1], x.Dims[2], x.Dims[3], w.Dims[2], w.Dims[3], stride.H, stride.W, padding.H, padding.W);
        // in long: a padding near int.MaxValue must not wrap around to a negative size
        long paddedH = x.Dims[2] + 2L * padding.H, paddedW = x.Dims[3] + 2L * padding.W;
        if (paddedH < g.KH || paddedW < g.KW)
            throw new ArgumentException($"{op}: kernel {g.KH}x{g.KW} is larger than the padded input {paddedH}x{paddedW}: input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        if (paddedH > int.MaxValue || paddedW > int.MaxValue)
            throw new ArgumentException($"{op}: padding ({padding.H},{padding.W}) makes the padded input {paddedH}x{paddedW}, larger than {int.MaxValue}: input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        // the output's size checked here, where the message can name the op, the padding and both shapes
        long outputs = (long)x.Dims[0] * w.Dims[0] * ((paddedH - g.KH) / g.SH + 1) * ((paddedW - g.KW) / g.SW + 1);
        if (outputs > int.MaxValue)
            throw new ArgumentException($"{op}: the output would have {outputs} elements, more than {int.MaxValue} (stride ({stride.H},{stride.W}), padding ({padding.H},{padding.W})): input {Shapes.Format(x.Dims)}, weight {Shapes.Format(w.Dims)}.");
        return g;
    }

    /// <summary>The storage of a contiguous tensor, copied only when it is an offset view.</summary>
    public static T[] Data<T>(Tensor t) => t.Offset == 0 && t.Array<T>().Length == t.NumElements ? t.Array<T>() : t.Span<T>().ToArray();
}

// y = conv2d(x, w) + b: dx = col2im(w^T dy), dw = sum_n dy_n col_n^T, db = sum over (N, OH, OW) of dy
// (per group: group gi's slice of dy against its slices of x and w)
internal sealed class Conv2dBackward(Tensor x, Tensor w, Tensor? b, Tensor xc, Tensor wc, Conv2dGeometry g, int groups) : Node([x, w, b], xc, wc)
{
    internal override Tensor?[] Backward(Tensor g0) => Gradients(g0, Saved(0), Saved(1), g, groups, NeedsInputGrad(0), NeedsInputGrad(1), NeedsInputGrad(2));

    // dy: (N,OC,OH,OW), x: (N,C,H,W), w: (OC,C/groups,KH,KW) -> [dx, dw, db], each only where wanted
    internal static Tensor?[] Gradients(Tensor g0, Tensor x, Tensor w, Conv2dGeometry g, int groups, bool wantX, bool wantW, bool wantB)
    {
        var dy = g0.ContiguousRaw();
        int n = x.Dims[0], oc = w.Dims[0];
        Tensor? dx = wantX ? Tensor.EmptyLike(x) : null;
        Tensor? dw = wantW ? Tensor.EmptyLike(w) : null;
        Tensor? db = wantB ? Tensor.Empty(x.DType, [oc]) : null;
        if (x.DType == DType.Float32) Run<float>(dy, x, w, dx, dw, db, n, oc, g, groups);
        else Run<double>(dy, x, w, dx, dw, db, n, oc, g, groups);
        return [dx, dw, db];
    }

    private static void Run<T>(Tensor dy, Tensor x, Tensor w, Tensor? dx, Tensor? dw, Tensor? db, int n, int oc, Conv2dGeometry g, int groups) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Conv2dKernels.Backward(Conv2dOp.Data<T>(dy), Conv2dOp.Data<T>(x), Conv2dOp.Data<T>(w), dx?.Array<T>(), dw?.Array<T>(), db?.Array<T>(), n, oc, g, groups);
    }
}
