using System.Numerics;

namespace Sharpgrad.Kernels;

internal static class WhereKernel
{
    // c, a, b: storages read at the coalesced broadcast strides st[0..2] from offsets[0..2] -> y: (shape) contiguous
    // (st[3]), y = c != 0 ? a : b; one inner row at a time (offsets and index are the odometer's scratch)
    public static void Run<TC, T>(ReadOnlySpan<TC> c, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, int[] shape, int[][] st, int[] offsets, int[] index)
        where TC : unmanaged, IFloatingPointIeee754<TC> where T : unmanaged, IFloatingPointIeee754<T>
    {
        int inner = shape[^1], sc = st[0][^1], sa = st[1][^1], sb = st[2][^1];
        do
        {
            var row = y.Slice(offsets[3], inner);
            int oc = offsets[0], oa = offsets[1], ob = offsets[2];
            for (int j = 0; j < inner; j++, oc += sc, oa += sa, ob += sb) row[j] = c[oc] != TC.Zero ? a[oa] : b[ob];
        } while (Strided.Next(index, shape, st, offsets));
    }
}
