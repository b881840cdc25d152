using System.Numerics;

namespace Sharpgrad.Kernels;

// x: (outer, n, inner) -> y: (outer, n, inner) with y[o, i, :] = x[o, n - 1 - i, :] (torch.flip along one axis)
internal readonly struct FlipKernel(int outer, int n, int inner) : ISpanKernel
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int block = n * inner;
        for (int o = 0; o < outer; o++)
        {
            var src = x.Slice(o * block, block);
            var dst = y.Slice(o * block, block);
            if (inner == 1)
            {
                // the last axis: one reversed row (MemoryExtensions.Reverse is vectorized)
                src.CopyTo(dst);
                dst.Reverse();
            }
            else
            {
                for (int i = 0; i < n; i++) src.Slice((n - 1 - i) * inner, inner).CopyTo(dst.Slice(i * inner, inner));
            }
        }
    }

    // the plain reference: element by element through the index map
    public static void Reference<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int n, int inner)
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < inner; j++)
                    y[(o * n + i) * inner + j] = x[(o * n + (n - 1 - i)) * inner + j];
    }
}
