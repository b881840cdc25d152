using System.Numerics;
using System.Numerics.Tensors;

namespace Sharpgrad.Kernels;

// Element-wise functions of two operands (IBinaryOp), each (x, y) -> d in the three span forms broadcasting needs;
// Elementwise.Zip runs them over broadcast tensors. IPairOp: two operands of one shape, run by Elementwise.Map.

/// <summary>An element-wise function of two tensors, in the three span forms broadcasting needs.</summary>
internal interface IBinaryOp
{
    T Scalar<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>;
    void VV<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>;
    void VS<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>;
    void SV<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>A kernel of two inputs, (a, b) -> y, run on whole spans (by DTypeDispatch); the lengths are the kernel's business.</summary>
internal interface ISpanKernel2
{
    void Apply<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>
/// An element-wise function of two operands of one length, (a, b) -> y, without broadcasting (a gradient beside the
/// saved input, a target beside the prediction): y[i] depends on a[i] and b[i] alone, so the spans may be split
/// anywhere (Elementwise.Map).
/// </summary>
internal interface IPairOp : ISpanKernel2
{
}

internal readonly struct AddKernel : IBinaryOp
{
    public T Scalar<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x + y;
    public void VV<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(x, y, d);
    public void VS<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(x, y, d);
    public void SV<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(y, x, d);
}

internal readonly struct SubKernel : IBinaryOp
{
    public T Scalar<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x - y;
    public void VV<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(x, y, d);
    public void VS<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(x, y, d);
    public void SV<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(x, y, d);
}

internal readonly struct MulKernel : IBinaryOp
{
    public T Scalar<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x * y;
    public void VV<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Multiply(x, y, d);
    public void VS<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Multiply(x, y, d);
    public void SV<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Multiply(y, x, d);
}

internal readonly struct DivKernel : IBinaryOp
{
    public T Scalar<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x / y;
    public void VV<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Divide(x, y, d);
    public void VS<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Divide(x, y, d);
    public void SV<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Divide(x, y, d);
}

// (x, y) -> 1 where x == y, else 0
internal readonly struct EqualMask : IBinaryOp
{
    public T Scalar<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x == y ? T.One : T.Zero;

    public void VV<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = x[i] == y[i] ? T.One : T.Zero;
    }

    public void VS<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = x[i] == y ? T.One : T.Zero;
    }

    public void SV<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T> => VS(y, x, d);
}

/// <summary>One comparison, for <see cref="CompareKernel{TP}"/>.</summary>
internal interface IComparisonTest
{
    static abstract bool Test<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>;
}

internal readonly struct EqTest : IComparisonTest
{
    public static bool Test<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x == y;
}

internal readonly struct NeTest : IComparisonTest
{
    public static bool Test<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x != y;
}

internal readonly struct LtTest : IComparisonTest
{
    public static bool Test<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x < y;
}

internal readonly struct LeTest : IComparisonTest
{
    public static bool Test<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x <= y;
}

internal readonly struct GtTest : IComparisonTest
{
    public static bool Test<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x > y;
}

internal readonly struct GeTest : IComparisonTest
{
    public static bool Test<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x >= y;
}

// (x, y) -> 1 where the test holds, else 0; x, y, d: (n) (or one side a scalar)
internal readonly struct CompareKernel<TP> : IBinaryOp where TP : struct, IComparisonTest
{
    public T Scalar<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => TP.Test(x, y) ? T.One : T.Zero;

    public void VV<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = TP.Test(x[i], y[i]) ? T.One : T.Zero;
    }

    public void VS<T>(ReadOnlySpan<T> x, T y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = TP.Test(x[i], y) ? T.One : T.Zero;
    }

    public void SV<T>(T x, ReadOnlySpan<T> y, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < d.Length; i++) d[i] = TP.Test(x, y[i]) ? T.One : T.Zero;
    }
}
