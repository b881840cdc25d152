namespace Sharpgrad.Kernels;

internal static class CatKernel
{
    // x: (outer, srcRow) -> y: (outer, dstRow) columns [offset, offset + srcRow)
    public static void CopyBlock<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int srcRow, int dstRow, int offset)
    {
        if (srcRow == 0) return;
        for (int o = 0; o < outer; o++) x.Slice(o * srcRow, srcRow).CopyTo(y.Slice(o * dstRow + offset, srcRow));
    }
}
