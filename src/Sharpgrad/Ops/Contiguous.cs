
namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>This tensor if already contiguous (unless <paramref name="force"/>), else a contiguous copy.</summary>
    public Tensor Contiguous(bool force = false)
    {
        if (IsContiguous && !force) return this;
        Tensor y;
        if (IsContiguous)
        {
            y = EmptyLike(this);
            if (DType == DType.Float32) Span<float>().CopyTo(y.Span<float>());
            else Span<double>().CopyTo(y.Span<double>());
        }
        else
        {
            y = ContiguousRaw();
        }
        if (NeedsGrad(this)) y.SetGradFn(new ContiguousBackward(this));
        return y;
    }
}

// y = copy(x): dy/dx is the identity.
internal sealed class ContiguousBackward(Tensor x) : Node([x])
{
    internal override Tensor?[] Backward(Tensor g) => [g];
}
