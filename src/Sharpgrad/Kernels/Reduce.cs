using System.Numerics;
using System.Numerics.Tensors;

namespace Sharpgrad.Kernels;

/// <summary>A reduction: how to fold one contiguous row, and how to combine two partial results element-wise.</summary>
internal interface IReduction
{
    /// <summary>Whether rounding makes the order matter (sums), so columns are combined pairwise rather than in a running fold.</summary>
    bool Pairwise { get; }

    T Row<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>;
    void Combine<T>(ReadOnlySpan<T> acc, ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>;
}

internal readonly struct SumReduction : IReduction
{
    public bool Pairwise => true;

    public T Row<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Summation.Sum(x);
    public void Combine<T>(ReadOnlySpan<T> acc, ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(acc, x, d);
}

internal readonly struct MaxReduction : IReduction
{
    public bool Pairwise => false;

    public T Row<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Max(x);
    public void Combine<T>(ReadOnlySpan<T> acc, ReadOnlySpan<T> x, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Max(acc, x, d);
}
