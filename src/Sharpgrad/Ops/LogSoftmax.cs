
namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Log-softmax along <paramref name="axis"/>: (x - max) - log(sum(exp(x - max))), stable at any magnitude.</summary>
    public Tensor LogSoftmax(int axis = -1)
    {
        int a = Shapes.NormalizeAxis("LogSoftmax", axis, Rank, Dims);
        var y = SoftmaxRows(this, a, log: true);
        if (NeedsGrad(this)) y.SetGradFn(new LogSoftmaxBackward(this, y, a));
        return y;
    }
}

// y = log_softmax(x): dx = dy - exp(y) * sum(dy, axis)
internal sealed class LogSoftmaxBackward(Tensor x, Tensor y, int axis) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g) => [g.Sub(Saved(0).Exp().Mul(g.Sum(axis, keepDim: true)))];
}
