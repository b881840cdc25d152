using System.Numerics;

namespace Sharpgrad.Kernels;

// x: (outer, n, inner) -> y: (outer, inner), the index along n of the first maximum (a NaN is the maximum)
internal readonly struct ArgmaxKernel(int outer, int n, int inner) : ISpanKernel
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int o = 0; o < outer; o++)
        for (int j = 0; j < inner; j++)
        {
            int b = o * n * inner + j, best = 0;
            T m = x[b];
            if (!T.IsNaN(m))
            {
                for (int k = 1; k < n; k++)
                {
                    T v = x[b + k * inner];
                    if (T.IsNaN(v))
                    {
                        best = k;
                        break;
                    }
                    if (v > m)
                    {
                        m = v;
                        best = k;
                    }
                }
            }
            y[o * inner + j] = T.CreateChecked(best);
        }
    }
}
