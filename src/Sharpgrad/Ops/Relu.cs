using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise max(x, 0).</summary>
    public Tensor Relu()
    {
        var y = Elementwise.Map(this, default(ReluKernel));
        if (NeedsGrad(this)) y.SetGradFn(new ReluBackward(this, y));
        return y;
    }
}

// x: any shape -> y: same shape
internal readonly struct ReluKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Max(x, T.Zero, y);
}

// y = max(x, 0): dx = 0 where y <= 0, else dy (0 at x = 0 and dy at NaN, as PyTorch's threshold_backward)
internal sealed class ReluBackward(Tensor x, Tensor y) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var y = Saved(0);
        var gc = g.ContiguousRaw();
        var dx = Tensor.EmptyLike(y);
        void Run(int s, int e)
        {
            if (y.DType == DType.Float32) ReluGradKernel.Run(y.Span<float>()[s..e], gc.Span<float>()[s..e], dx.Span<float>()[s..e]);
            else ReluGradKernel.Run(y.Span<double>()[s..e], gc.Span<double>()[s..e], dx.Span<double>()[s..e]);
        }
        if (y.NumElements < 1 << 16) Run(0, y.NumElements);
        else Parallelism.For(y.NumElements, (_, s, e) => Run(s, e));
        return [dx];
    }
}

// y, dy: (n) -> dx: (n), dx = y <= 0 ? 0 : dy (a NaN passes dy), one pass (TensorPrimitives has no select)
internal static class ReluGradKernel
{
    public static void Run<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && y.Length >= Vector512<T>.Count)
        {
            for (; i <= y.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                var yv = Vector512.Create(y.Slice(i, Vector512<T>.Count));
                var gv = Vector512.Create(g.Slice(i, Vector512<T>.Count));
                Vector512.ConditionalSelect(Vector512.LessThanOrEqual(yv, Vector512<T>.Zero), Vector512<T>.Zero, gv).CopyTo(dx.Slice(i));
            }
        }
        else if (Vector256.IsHardwareAccelerated && y.Length >= Vector256<T>.Count)
        {
            for (; i <= y.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var yv = Vector256.Create(y.Slice(i, Vector256<T>.Count));
                var gv = Vector256.Create(g.Slice(i, Vector256<T>.Count));
                Vector256.ConditionalSelect(Vector256.LessThanOrEqual(yv, Vector256<T>.Zero), Vector256<T>.Zero, gv).CopyTo(dx.Slice(i));
            }
        }
        for (; i < y.Length; i++) dx[i] = y[i] <= T.Zero ? T.Zero : g[i];
    }

    // the plain loop, kept as the oracle
    public static void Reference<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < y.Length; i++) dx[i] = y[i] <= T.Zero ? T.Zero : g[i];
    }
}
