using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

// Activations and their gradients: ReLU, leaky ReLU, GELU, each element-wise over (n).

// x: any shape -> y: same shape
internal readonly struct ReluKernel : IUnaryOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Max(x, T.Zero, y);
}

// a, b: (n) -> y: (n) = max(a + b, 0) in one pass (a residual sum and the ReLU after it): the operations of
// TensorPrimitives.Add then Max(., 0), so the same bits as the two ops
internal readonly struct AddReluKernel : IPairOp
{
    public void Apply<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = a.Length, i = 0;
        if (b.Length < n || y.Length < n) throw new ArgumentException($"AddReluKernel: expected {n} elements in b and y, got {b.Length} and {y.Length}.");
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                Vector512.Max(Vector512.Create(a.Slice(i, Vector512<T>.Count)) + Vector512.Create(b.Slice(i, Vector512<T>.Count)), Vector512<T>.Zero).CopyTo(y.Slice(i));
        else if (Vector256.IsHardwareAccelerated)
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                Vector256.Max(Vector256.Create(a.Slice(i, Vector256<T>.Count)) + Vector256.Create(b.Slice(i, Vector256<T>.Count)), Vector256<T>.Zero).CopyTo(y.Slice(i));
        for (; i < n; i++) y[i] = T.Max(a[i] + b[i], T.Zero);
    }
}

// y, dy: (n) -> dx: (n), dx = y <= 0 ? 0 : dy (a NaN passes dy), one pass (TensorPrimitives has no select)
internal readonly struct ReluGradKernel : IPairOp
{
    public void Apply<T>(ReadOnlySpan<T> y, ReadOnlySpan<T> g, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T> => Run(y, g, dx);

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

// forward x: (n) -> y: (n), y = x > 0 ? x : s x; backward x, dy: (n) -> dx: (n), dx = x > 0 ? dy : s dy
internal readonly struct LeakyReluOp(double slope) : IUnaryOp, IPairOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => LeakyReluKernel.Run(x, x, y, T.CreateTruncating(slope));

    public void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T> => LeakyReluKernel.Run(x, g, dx, T.CreateTruncating(slope));
}

// x, v: (n) -> d: (n), d = x > 0 ? v : s v (forward: v = x; backward: v = dy); one pass (TensorPrimitives has no select)
internal static class LeakyReluKernel
{
    public static void Run<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> v, Span<T> d, T slope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && x.Length >= Vector512<T>.Count)
        {
            var s = Vector512.Create(slope);
            for (; i <= x.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                var xv = Vector512.Create(x.Slice(i, Vector512<T>.Count));
                var vv = Vector512.Create(v.Slice(i, Vector512<T>.Count));
                Vector512.ConditionalSelect(Vector512.GreaterThan(xv, Vector512<T>.Zero), vv, vv * s).CopyTo(d.Slice(i));
            }
        }
        else if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<T>.Count)
        {
            var s = Vector256.Create(slope);
            for (; i <= x.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var xv = Vector256.Create(x.Slice(i, Vector256<T>.Count));
                var vv = Vector256.Create(v.Slice(i, Vector256<T>.Count));
                Vector256.ConditionalSelect(Vector256.GreaterThan(xv, Vector256<T>.Zero), vv, vv * s).CopyTo(d.Slice(i));
            }
        }
        for (; i < x.Length; i++) d[i] = x[i] > T.Zero ? v[i] : v[i] * slope;
    }

    // the plain loop, kept as the oracle
    public static void Reference<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> v, Span<T> d, T slope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++) d[i] = x[i] > T.Zero ? v[i] : v[i] * slope;
    }
}

// forward x: (n) -> y: (n); backward x, dy: (n) -> dx: (n)
internal readonly struct GeluOp : IUnaryOp, IPairOp
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> => GeluKernel.Forward(x, y);

    public void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T> => GeluKernel.Backward(x, g, dx);
}

internal static class GeluKernel
{
    private const double InvSqrt2 = 0.70710678118654752440;
    private const double InvSqrt2Pi = 0.39894228040143267794;

    // x: (n) -> y: (n), y = 0.5 x (1 + erf(x / sqrt 2)) in float64 per element (erf has no vector form)
    public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            y[i] = T.CreateTruncating(0.5 * v * (1 + SpecialFunctions.Erf(v * InvSqrt2)));
        }
    }

    // x, dy: (n) -> dx: (n), dx = dy (Phi(x) + x phi(x))
    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = double.CreateTruncating(x[i]);
            double cdf = 0.5 * (1 + SpecialFunctions.Erf(v * InvSqrt2));
            double pdf = Math.Exp(-0.5 * v * v) * InvSqrt2Pi;
            dx[i] = T.CreateTruncating(double.CreateTruncating(g[i]) * (cdf + v * pdf));
        }
    }
}
