using System.Numerics;
using Sharpgrad.Kernels;

namespace Sharpgrad;

/// <summary>Drivers that run element-wise ops over tensors of either dtype.</summary>
internal static class Elementwise
{
    // x: any shape, any strides -> y: same shape, contiguous
    public static Tensor Map<TOp>(Tensor x, TOp op) where TOp : struct, IUnaryOp
    {
        var xc = x.ContiguousRaw();
        var y = Tensor.EmptyLike(x);
        if (x.DType == DType.Float32) Map<float, TOp>(xc, y, op);
        else Map<double, TOp>(xc, y, op);
        return y;
    }

    /// <summary>Element-wise work at least this large is split across threads (exact: each element is computed alone).</summary>
    private const int ParallelThreshold = 1 << 16;

    private static void Split(int n, Action<int, int> body)
    {
        if (n < ParallelThreshold || Parallelism.Threads == 1) body(0, n);
        else Parallelism.ForBalanced(n, (_, start, end) => body(start, end));
    }

    private static void Map<T, TOp>(Tensor x, Tensor y, TOp op) where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IUnaryOp
    {
        T[] xa = x.Array<T>(), ya = y.Array<T>();
        int xo = x.Offset;
        Split(y.NumElements, (s, e) => op.Apply<T>(xa.AsSpan(xo + s, e - s), ya.AsSpan(s, e - s)));
    }

    // a, b: one shape (a's dtype) -> y: that shape, contiguous. Exact per element, so from parallelFrom elements the
    // work splits across threads without changing a bit; below it nothing is allocated but y.
    public static Tensor Map<TOp>(Tensor a, Tensor b, TOp op, int parallelFrom = ParallelThreshold) where TOp : struct, IPairOp
    {
        var ac = a.ContiguousRaw();
        var bc = b.ContiguousRaw();
        var y = Tensor.EmptyLike(ac);
        if (y.NumElements < parallelFrom || Parallelism.Threads == 1) DTypeDispatch.Run(ac, bc, y, op);
        else if (a.DType == DType.Float32) MapParallel<float, TOp>(ac, bc, y, op);
        else MapParallel<double, TOp>(ac, bc, y, op);
        return y;
    }

    private static void MapParallel<T, TOp>(Tensor a, Tensor b, Tensor y, TOp op) where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IPairOp
    {
        T[] aa = a.Array<T>(), ba = b.Array<T>(), ya = y.Array<T>();
        int ao = a.Offset, bo = b.Offset, yo = y.Offset;
        Parallelism.ForBalanced(y.NumElements, (_, s, e) => op.Apply<T>(aa.AsSpan(ao + s, e - s), ba.AsSpan(bo + s, e - s), ya.AsSpan(yo + s, e - s)));
    }

    // a: shape A, b: shape B -> y: broadcast(A, B), contiguous
    public static Tensor Zip<TOp>(string name, Tensor a, Tensor b, TOp op) where TOp : struct, IBinaryOp
    {
        Tensor.CheckSameDType(name, a, b);
        int[] shape = Shapes.Broadcast(name, a.Dims, b.Dims);
        var y = Tensor.Empty(a.DType, shape);
        if (a.DType == DType.Float32) Zip<float, TOp>(a, b, y, op);
        else Zip<double, TOp>(a, b, y, op);
        return y;
    }

    private static void Zip<T, TOp>(Tensor a, Tensor b, Tensor y, TOp op)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IBinaryOp
    {
        var ys = y.Span<T>();
        if (ys.Length == 0) return;
        bool aFull = Shapes.SameShape(a.Dims, y.Dims), bFull = Shapes.SameShape(b.Dims, y.Dims);
        T[] aa = a.Array<T>(), ba = b.Array<T>(), ya = y.Array<T>();
        int ao = a.Offset, bo = b.Offset;
        if (aFull && bFull && a.IsContiguous && b.IsContiguous)
        {
            Split(ys.Length, (s, e) => op.VV<T>(aa.AsSpan(ao + s, e - s), ba.AsSpan(bo + s, e - s), ya.AsSpan(s, e - s)));
            return;
        }
        if (aFull && a.IsContiguous && b.NumElements == 1)
        {
            T bv = ba[bo];
            Split(ys.Length, (s, e) => op.VS<T>(aa.AsSpan(ao + s, e - s), bv, ya.AsSpan(s, e - s)));
            return;
        }
        if (bFull && b.IsContiguous && a.NumElements == 1)
        {
            T av = aa[ao];
            Split(ys.Length, (s, e) => op.SV<T>(av, ba.AsSpan(bo + s, e - s), ya.AsSpan(s, e - s)));
            return;
        }
        var (shape, st) = Strided.Coalesce(y.Dims,
            Shapes.BroadcastStrides(a.Dims, a.StrideArr, y.Dims),
            Shapes.BroadcastStrides(b.Dims, b.StrideArr, y.Dims),
            Shapes.ContiguousStrides(y.Dims));
        T[] ad = a.Array<T>(), bd = b.Array<T>();
        int inner = shape[^1], sa = st[0][^1], sb = st[1][^1];
        var index = new int[shape.Length];
        var offsets = new[] { a.Offset, b.Offset, 0 };
        do
        {
            var row = ys.Slice(offsets[2], inner);
            if (sa == 1 && sb == 1) op.VV<T>(ad.AsSpan(offsets[0], inner), bd.AsSpan(offsets[1], inner), row);
            else if (sa == 1 && sb == 0) op.VS<T>(ad.AsSpan(offsets[0], inner), bd[offsets[1]], row);
            else if (sa == 0 && sb == 1) op.SV<T>(ad[offsets[0]], bd.AsSpan(offsets[1], inner), row);
            else
            {
                int oa = offsets[0], ob = offsets[1];
                for (int j = 0; j < inner; j++, oa += sa, ob += sb) row[j] = op.Scalar(ad[oa], bd[ob]);
            }
        } while (Strided.Next(index, shape, st, offsets));
    }
}
