using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Sharpgrad.Kernels;

// x: (rows, n) -> y: (rows, n), softmax or log-softmax of each row, max-shifted for stability (log-sum-exp)
internal readonly struct SoftmaxKernel(int n, bool log) : ISpanKernel
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
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
