
namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// A view of elements <paramref name="start"/>, start+step, ... below <paramref name="end"/> along
    /// <paramref name="axis"/> (negative start/end count from the end, as Python slices).
    /// </summary>
    public Tensor Slice(int axis, int start, int end, int step = 1)
    {
        int a = Shapes.NormalizeAxis("Slice", axis, Rank, Dims);
        int n = Dims[a];
        if (step <= 0) throw new ArgumentOutOfRangeException(nameof(step), $"Slice: step must be positive, got {step}.");
        int s = Math.Clamp(start < 0 ? start + n : start, 0, n);
        int e = Math.Clamp(end < 0 ? end + n : end, 0, n);
        int len = e > s ? (e - s + step - 1) / step : 0;
        var shape = (int[])Dims.Clone();
        var strides = (int[])StrideArr.Clone();
        shape[a] = len;
        strides[a] *= step;
        var y = ViewOf(shape, strides, Offset + (len > 0 ? s * StrideArr[a] : 0));
        if (NeedsGrad(this)) y.SetGradFn(new SliceBackward(this, a, s, step));
        return y;
    }

    /// <summary><paramref name="length"/> elements from <paramref name="start"/> along <paramref name="axis"/> (torch.narrow).</summary>
    public Tensor Narrow(int axis, int start, int length)
    {
        int a = Shapes.NormalizeAxis("Narrow", axis, Rank, Dims);
        if (start < 0 || length < 0 || start + length > Dims[a])
            throw new ArgumentOutOfRangeException(nameof(start), $"Narrow: range [{start}, {start + length}) is outside dimension {axis} of size {Dims[a]} (shape {Shapes.Format(Dims)}).");
        return Slice(a, start, start + length);
    }
}

// y = x[.., start::step, ..]: dx = zeros with dy written into the same slice
internal sealed class SliceBackward(Tensor x, int axis, int start, int step) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor g)
    {
        var dx = Tensor.Zeros(_shape, g.DType);
        var window = dx.Slice(axis, start, start + g.Dims[axis] * step, step);
        window.CopyFrom(g);
        return [dx];
    }
}
