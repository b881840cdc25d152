using System.Numerics;
using Sharpgrad.Kernels;

namespace Sharpgrad;

// Non-differentiable helpers used by backward passes.
public sealed partial class Tensor
{
    /// <summary>1 where x &gt; 0, else 0.</summary>
    internal Tensor Positive() => Elementwise.Map(this, default(PositiveMask));

    /// <summary>sign(x): -1, 0 or 1.</summary>
    internal Tensor Sign() => Elementwise.Map(this, default(SignKernel));
}

// x -> 1 where x > 0, else 0
internal readonly struct PositiveMask : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? T.One : T.Zero;
    }
}

// x -> sign(x)
internal readonly struct SignKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? T.One : x[i] < T.Zero ? -T.One : T.Zero;
    }
}
