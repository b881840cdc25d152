using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// 2-D max pooling. x: (N,C,H,W) -> (N,C,OH,OW), OH = (H + 2 padding - kernel) / stride + 1; stride defaults to
    /// the kernel size; padding reads as -inf.
    /// </summary>
    public Tensor MaxPool2d(int kernel, int? stride = null, int padding = 0)
    {
        int s = stride ?? kernel;
        return MaxPool2d((kernel, kernel), (s, s), (padding, padding));
    }

    /// <summary>
    /// 2-D max pooling with separate vertical and horizontal kernel, stride and padding (torch.nn.MaxPool2d with
    /// tuples): x: (N,C,H,W) -> (N,C,OH,OW), OH = (H + 2 padding.H - kernel.H) / stride.H + 1, likewise OW; padding
    /// reads as -inf and is at most half the kernel.
    /// </summary>
    /// <exception cref="ArgumentException">The input is not 4-D, or the kernel, stride or padding do not fit it.</exception>
    public Tensor MaxPool2d((int H, int W) kernel, (int H, int W) stride, (int H, int W) padding)
    {
        var g = Pool2dOp.Validate("MaxPool2d", this, kernel, stride, padding);
        int planes = Dims[0] * Dims[1];
        var x = ContiguousRaw();
        var y = Empty(DType, [Dims[0], Dims[1], g.OH, g.OW]);
        bool grad = NeedsGrad(this);
        // the argmax is kept only for the backward (recycled with the step's TensorScope); without one it is scratch from the pool
        var argmax = grad ? TensorScope.Rent<int>(y.NumElements) : System.Buffers.ArrayPool<int>.Shared.Rent(y.NumElements);
        if (DType == DType.Float32) Run<float>(x, y, argmax, planes, g);
        else Run<double>(x, y, argmax, planes, g);
        if (grad) y.SetGradFn(new MaxPool2dBackward(this, y, argmax, g));
        else System.Buffers.ArrayPool<int>.Shared.Return(argmax);
        return y;
    }

    // planes split across threads; 2x2 stride 2 without padding takes the specialised kernel
    private static void Run<T>(Tensor x, Tensor y, int[] argmax, int planes, Conv2dGeometry g) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        T[] xs = x.Array<T>(), ys = y.Array<T>();
        int xo = x.Offset, hw = g.H * g.W, l = g.L;
        bool fast = g is { KH: 2, KW: 2, SH: 2, SW: 2, PH: 0, PW: 0 };
        Parallelism.ForBalanced(planes, (_, s, e) =>
        {
            var xp = xs.AsSpan(xo + s * hw, (e - s) * hw);
            var yp = ys.AsSpan(s * l, (e - s) * l);
            var ap = argmax.AsSpan(s * l, (e - s) * l);
            if (fast) PoolKernels.MaxForward2x2<T>(xp, yp, ap, e - s, g);
            else PoolKernels.MaxForward<T>(xp, yp, ap, e - s, g);
        }, (long)planes * hw);
    }
}

// y = maxpool(x): dx = dy routed to the position of each window's maximum
internal sealed class MaxPool2dBackward(Tensor x, Tensor y, int[] argmax, Conv2dGeometry g) : Node([x])
{
    private readonly int[] _shape = x.Shape;

    internal override Tensor?[] Backward(Tensor dy)
    {
        // the argmax was rented with the output's storage: once the TensorScope that made them has ended, another
        // step may have overwritten it
        if (y.IsReleased)
            throw new ObjectDisposedException(nameof(Tensor), $"MaxPool2dBackward: the output of shape {Shapes.Format(y.Dims)} and its argmax were released when the TensorScope that created them ended; run Backward inside that scope.");
        return [Unpool(dy, argmax, _shape, g)];
    }

    // dy: (N,C,OH,OW) with its window maxima's positions -> dx: (N,C,H,W), dy at each maximum, zeros elsewhere;
    // planes split over the threads (also Conv2dMaxPool2d's backward)
    internal static Tensor Unpool(Tensor dy, int[] argmax, int[] shape, Conv2dGeometry g)
    {
        var d = dy.ContiguousRaw();
        var dx = Tensor.Empty(d.DType, shape);
        int planes = shape[0] * shape[1];
        int hw = g.H * g.W, l = g.L;
        Parallelism.ForBalanced(planes, (_, s, e) =>
        {
            if (d.DType == DType.Float32) PoolKernels.MaxBackward(d.Span<float>().Slice(s * l, (e - s) * l), argmax.AsSpan(s * l, (e - s) * l), dx.Span<float>().Slice(s * hw, (e - s) * hw), e - s, g);
            else PoolKernels.MaxBackward(d.Span<double>().Slice(s * l, (e - s) * l), argmax.AsSpan(s * l, (e - s) * l), dx.Span<double>().Slice(s * hw, (e - s) * hw), e - s, g);
        }, (long)planes * hw);
        return dx;
    }
}
