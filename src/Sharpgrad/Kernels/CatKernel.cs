using System.Numerics;

namespace Sharpgrad.Kernels;

// x: (outer, srcRow) -> y: (outer, dstRow) columns [offset, offset + srcRow)
internal readonly struct CatKernel(int outer, int srcRow, int dstRow, int offset) : ISpanKernel
{
    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (srcRow == 0) return;
        for (int o = 0; o < outer; o++) x.Slice(o * srcRow, srcRow).CopyTo(y.Slice(o * dstRow + offset, srcRow));
    }
}
