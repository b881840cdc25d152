using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// A fully connected layer's map, PyTorch's torch.nn.functional.linear: y = x W^T + b. input: (..., in), weight:
    /// (out, in), bias: (out) or null -> (..., out). One GEMM with the weight read in place and the bias added to each
    /// tile of y as it is finished ((sum of products) + b); without gradients a parameter's W^T is kept packed for
    /// the GEMM between calls (made again when the weight is written: see <see cref="AsSpan{T}"/>). The backward is
    /// dx = dy W, dW = dy^T x, db = the sum of dy over the leading dimensions, without the transposed copies a MatMul
    /// with weight.Transpose() and an Add would make.
    /// </summary>
    /// <exception cref="ArgumentException">Different dtypes, a weight that is not 2-D, an input whose last dimension is
    /// not weight's second, or a bias that is not (out); the message names Linear and the shapes.</exception>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) => LinearCore("Linear", input, weight, bias, relu: false);

    // the checks, the product and the graph node of Linear and LinearRelu (op names the op in its errors)
    internal static Tensor LinearCore(string op, Tensor input, Tensor weight, Tensor? bias, bool relu)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        CheckSameDType(op, input, weight);
        if (bias is not null) CheckSameDType(op, input, bias);
        if (weight.Rank != 2)
            throw new ArgumentException($"{op}: expected weight of shape (out, in), got {Shapes.Format(weight.Dims)} (input {Shapes.Format(input.Dims)}).");
        int outF = weight.Dims[0], inF = weight.Dims[1];
        if (input.Rank < 1 || input.Dims[^1] != inF)
            throw new ArgumentException($"{op}: expected input with {inF} features in its last dimension, got {Shapes.Format(input.Dims)} (weight {Shapes.Format(weight.Dims)}).");
        if (bias is not null && (bias.Rank != 1 || bias.Dims[0] != outF))
            throw new ArgumentException($"{op}: expected bias of shape [{outF}], got {Shapes.Format(bias.Dims)} (weight {Shapes.Format(weight.Dims)}).");
        int rows = inF == 0 ? Shapes.Numel(input.Dims[..^1]) : input.NumElements / inF;
        var x = input.ContiguousRaw();
        var w = weight.ContiguousRaw();
        var b = bias?.ContiguousRaw();
        var y = Empty(input.DType, [.. input.Dims[..^1], outF]);
        if (input.DType == DType.Float32)
        {
            // evaluation: W^T's GEMM panels kept with the parameter instead of packed each call
            var packed = !GradMode.IsEnabled && LinearKernels.UsesPackedWeights<float>(rows, inF, outF) ? LinearWeights.Of(weight) : null;
            LinearKernels.Forward<float>(x.Span<float>(), w.Span<float>(), b is null ? default : b.Span<float>(), y.Span<float>(), rows, inF, outF, b is not null, relu, packed);
        }
        else
            LinearKernels.Forward<double>(x.Span<double>(), w.Span<double>(), b is null ? default : b.Span<double>(), y.Span<double>(), rows, inF, outF, b is not null, relu);
        if (GradMode.IsEnabled && (input.RequiresGrad || weight.RequiresGrad || bias?.RequiresGrad == true))
            // saved only where a gradient needs it: x for dW, W for dx (db needs neither); y for the ReLU's mask
            y.SetGradFn(new LinearBackward(input, weight, bias, weight.RequiresGrad ? x : null, input.RequiresGrad ? w : null, relu ? y : null, (int[])input.Dims.Clone(), rows, inF, outF));
        return y;
    }
}

// y = x W^T + b: dx = dy W, dW = dy^T x, db = sum over rows of dy; with a fused ReLU (y saved) dy is first masked
// where y <= 0, as ReLU's own backward does
internal sealed class LinearBackward(Tensor input, Tensor weight, Tensor? bias, Tensor? x, Tensor? w, Tensor? reluOutput, int[] inputDims, int rows, int inF, int outF)
    : Node([input, weight, bias], x, w, reluOutput)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var dy = g.ContiguousRaw();
        if (reluOutput is not null)
        {
            var y = Saved(2);
            var dz = Tensor.EmptyLike(y);
            if (y.DType == DType.Float32) ReluGradKernel.Run(y.Span<float>(), dy.Span<float>(), dz.Span<float>());
            else ReluGradKernel.Run(y.Span<double>(), dy.Span<double>(), dz.Span<double>());
            dy = dz;
        }
        var dtype = dy.DType;
        bool needX = NeedsInputGrad(0), needW = NeedsInputGrad(1);
        Tensor? xc = needW ? Saved(0) : null, wc = needX ? Saved(1) : null;
        var dx = needX ? Tensor.Empty(dtype, inputDims) : null;
        var dw = needW ? Tensor.Empty(dtype, [outF, inF]) : null;
        var db = NeedsInputGrad(2) ? Tensor.Empty(dtype, [outF]) : null;
        if (dtype == DType.Float32)
            LinearKernels.Backward<float>(dy.Span<float>(), xc is null ? default : xc.Span<float>(), wc is null ? default : wc.Span<float>(),
                dx is null ? default : dx.Span<float>(), dw is null ? default : dw.Span<float>(), db is null ? default : db.Span<float>(), rows, inF, outF);
        else
            LinearKernels.Backward<double>(dy.Span<double>(), xc is null ? default : xc.Span<double>(), wc is null ? default : wc.Span<double>(),
                dx is null ? default : dx.Span<double>(), dw is null ? default : dw.Span<double>(), db is null ? default : db.Span<double>(), rows, inF, outF);
        return [dx, dw, db];
    }
}
