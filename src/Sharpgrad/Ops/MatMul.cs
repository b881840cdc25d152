using System.Numerics;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Matrix product. a: (..., M, K), b: (..., K, N) -> (broadcast(...), M, N); batch dimensions broadcast by
    /// NumPy rules. Transposed and other strided operands are read in place, without a copy.
    /// </summary>
    public Tensor MatMul(Tensor other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Tensor a = this, b = other;
        CheckSameDType("MatMul", a, b);
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"MatMul: expected operands with at least 2 dimensions: lhs {Shapes.Format(a.Dims)}, rhs {Shapes.Format(b.Dims)}; use Unsqueeze to make a vector a matrix.");
        int m = a.Dims[^2], k = a.Dims[^1], k2 = b.Dims[^2], n = b.Dims[^1];
        if (k != k2)
            throw new ArgumentException($"MatMul: inner dimensions differ ({k} vs {k2}): lhs {Shapes.Format(a.Dims)}, rhs {Shapes.Format(b.Dims)}.");
        var batch = Shapes.Broadcast("MatMul", a.Dims[..^2], b.Dims[..^2]);
        var y = Empty(a.DType, [.. batch, m, n]);
        if (a.DType == DType.Float32) MatMulBatches<float>(a, b, y, batch, m, n, k);
        else MatMulBatches<double>(a, b, y, batch, m, n, k);
        if (NeedsGrad(a, b)) y.SetGradFn(new MatMulBackward(a, b));
        return y;
    }

    // a: (..., m, k), b: (..., k, n) -> y: (batch, m, n), one GEMM per batch index
    private static void MatMulBatches<T>(Tensor a, Tensor b, Tensor y, int[] batch, int m, int n, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var sa = Shapes.BroadcastStrides(a.Dims[..^2], a.StrideArr[..^2], batch);
        var sb = Shapes.BroadcastStrides(b.Dims[..^2], b.StrideArr[..^2], batch);
        int count = Shapes.Numel(batch);
        int rsA = a.StrideArr[^2], csA = a.StrideArr[^1], rsB = b.StrideArr[^2], csB = b.StrideArr[^1];
        T[] ad = a.Array<T>(), bd = b.Array<T>();
        var ys = y.Span<T>();
        var index = new int[batch.Length];
        for (int t = 0; t < count; t++)
        {
            int oa = a.Offset, ob = b.Offset;
            for (int d = 0; d < batch.Length; d++)
            {
                oa += index[d] * sa[d];
                ob += index[d] * sb[d];
            }
            Gemm.Multiply<T>(m, n, k, ad.AsSpan(oa), rsA, csA, bd.AsSpan(ob), rsB, csB, ys.Slice(t * m * n, m * n), n, accumulate: false);
            for (int d = batch.Length - 1; d >= 0; d--)
            {
                if (++index[d] < batch[d]) break;
                index[d] = 0;
            }
        }
    }
}

// y = a @ b: da = sumTo(dy @ b^T, a), db = sumTo(a^T @ dy, b)
internal sealed class MatMulBackward(Tensor a, Tensor b) : Node([a, b], a, b)
{
    internal override Tensor?[] Backward(Tensor g)
    {
        Tensor a = Saved(0), b = Saved(1);
        return
        [
            NeedsInputGrad(0) ? g.MatMul(b.Transpose(-1, -2)).SumTo(a.Dims) : null,
            NeedsInputGrad(1) ? a.Transpose(-1, -2).MatMul(g).SumTo(b.Dims) : null,
        ];
    }
}
