using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// max(this + other, 0) in one pass, for operands of one shape (a residual block's sum and the ReLU after it, as
    /// ONNX Runtime's fused Add + Relu): (S), (S) -> (S). Bitwise <c>Add(other).Relu()</c>, values and gradients (both
    /// operands get dy where the output is positive, 0 elsewhere; dy at NaN, as ReLU's backward).
    /// </summary>
    /// <exception cref="ArgumentException">Operands of different shapes (no broadcasting) or dtypes; the message names AddRelu and both shapes.</exception>
    public Tensor AddRelu(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!Dims.AsSpan().SequenceEqual(other.Dims))
            throw new ArgumentException($"AddRelu: expected operands of one shape (no broadcasting), got {Shapes.Format(Dims)} and {Shapes.Format(other.Dims)}.");
        CheckSameDType("AddRelu", this, other);
        var y = Elementwise.Map(this, other, default(AddReluKernel));
        if (NeedsGrad(this, other)) y.SetGradFn(new AddReluBackward(this, other, y));
        return y;
    }
}

// y = max(a + b, 0): da = db = dy where y > 0, else 0 (dy at NaN)
internal sealed class AddReluBackward(Tensor a, Tensor b, Tensor y) : Node([a, b], y)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var dz = Elementwise.Map(Saved(0), g, default(ReluGradKernel));
        return [NeedsInputGrad(0) ? dz : null, NeedsInputGrad(1) ? dz : null];
    }
}
