using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Softmax along <paramref name="axis"/>: exp(x - max) / sum(exp(x - max)).</summary>
    public Tensor Softmax(int axis = -1)
    {
        int a = Shapes.NormalizeAxis("Softmax", axis, Rank, Dims);
        var y = SoftmaxRows(this, a, log: false);
        if (NeedsGrad(this)) y.SetGradFn(new SoftmaxBackward(this, y, a));
        return y;
    }

    /// <summary>Runs a row kernel along <paramref name="axis"/> (moved last, made contiguous, moved back).</summary>
    internal static Tensor SoftmaxRows(Tensor x, int axis, bool log)
    {
        var perm = Enumerable.Range(0, x.Rank).Where(i => i != axis).Append(axis).ToArray();
        var inv = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inv[perm[i]] = i;
        var xc = x.Rank == 0 ? x.ContiguousRaw() : x.PermuteRaw(perm).ContiguousRaw();
        var y = EmptyLike(xc);
        int n = x.Rank == 0 ? 1 : x.Dims[axis];
        if (x.DType == DType.Float32) SoftmaxKernel.Rows(xc.Span<float>(), y.Span<float>(), n, log);
        else SoftmaxKernel.Rows(xc.Span<double>(), y.Span<double>(), n, log);
        return x.Rank == 0 ? y : y.PermuteRaw(inv).ContiguousRaw();
    }
}

internal static class SoftmaxKernel
{
    // x: (rows, n) -> y: (rows, n), softmax or log-softmax of each row, max-shifted for stability (log-sum-exp)
    public static void Rows<T>(ReadOnlySpan<T> x, Span<T> y, int n, bool log) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (n == 0) return;
        if (typeof(T) == typeof(float))
        {
            RowsViaDouble(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), n, log);
            return;
        }
        var xd = MemoryMarshal.Cast<T, double>(x);
        var yd = MemoryMarshal.Cast<T, double>(y);
        for (int r = 0; r < x.Length / n; r++)
        {
            var xr = xd.Slice(r * n, n);
            var yr = yd.Slice(r * n, n);
            double max = TensorPrimitives.Max(xr);
            TensorPrimitives.Subtract(xr, max, yr);
            ElementwiseMath.Exp(yr, yr);
            double sum = Summation.Sum<double>(yr);
            if (log)
            {
                // (x - max) - log(sum), never x - (max + log(sum)): at |max| >> 1 the sum max + log(sum) rounds away
                // the normaliser (logits [1e8, 1e8] would give log-probabilities 0 instead of -ln 2)
                TensorPrimitives.Subtract(xr, max, yr);
                TensorPrimitives.Subtract(yr, Math.Log(sum), yr);
            }
            else
            {
                TensorPrimitives.Divide(yr, sum, yr);
            }
        }
    }

    // x: (rows, n) float32 -> y: (rows, n), computed in float64 and rounded once: there x - max is exact, so exp's
    // argument carries no float32 rounding (which costs each probability a relative error of |x - max| 2^-24, 68 units
    // in the last place for logits spread over +-100); the scratch rows come from the shared array pool
    private static void RowsViaDouble(ReadOnlySpan<float> x, Span<float> y, int n, bool log)
    {
        var scratch = ArrayPool<double>.Shared.Rent(2 * n);
        try
        {
            var d = scratch.AsSpan(0, n);
            var e = scratch.AsSpan(n, n);
            for (int r = 0; r < x.Length / n; r++)
            {
                var xr = x.Slice(r * n, n);
                var yr = y.Slice(r * n, n);
                TensorPrimitives.ConvertChecked<float, double>(xr, d);
                TensorPrimitives.Subtract(d, (double)TensorPrimitives.Max(xr), d);
                ElementwiseMath.Exp(d, e);
                double sum = Summation.Sum<double>(e);
                if (log) TensorPrimitives.Subtract(d, Math.Log(sum), e); // (x - max) - log(sum), as above
                else TensorPrimitives.Divide(e, sum, e);
                TensorPrimitives.ConvertTruncating<double, float>(e, yr);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(scratch);
        }
    }
}

// y = softmax(x): dx = y * (dy - sum(dy * y, axis))
internal sealed class SoftmaxBackward(Tensor x, Tensor y, int axis) : Node([x], y)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var y = Saved(0);
        return [y.Mul(g.Sub(g.Mul(y).Sum(axis, keepDim: true)))];
    }
}
