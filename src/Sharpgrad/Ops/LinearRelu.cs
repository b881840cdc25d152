using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// A fully connected layer followed by ReLU in one op, max(x W^T + b, 0): input: (..., in), weight: (out, in),
    /// bias: (out) or null -> (..., out). The bias and the ReLU are applied to each tile of the output as the GEMM
    /// finishes it (no second pass over the output); the result and its gradients equal Linear(...).Relu() exactly
    /// (the backward masks dy where the output is not positive, then runs Linear's backward).
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Linear(Tensor, Tensor, Tensor?)"/>; the message names LinearRelu and the shapes.</exception>
    public static Tensor LinearRelu(Tensor input, Tensor weight, Tensor? bias = null) => LinearCore("LinearRelu", input, weight, bias, relu: true);
}
