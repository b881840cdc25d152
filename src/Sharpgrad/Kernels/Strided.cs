using System.Numerics;

namespace Sharpgrad.Kernels;

/// <summary>Walks strided layouts row by row, after merging dimensions that are laid out contiguously.</summary>
internal static class Strided
{
    /// <summary>
    /// Merges adjacent dimensions that are contiguous with respect to every operand and drops size-1 dimensions.
    /// shape: (d0..dn), strides[k]: (s0..sn) per operand -> fewer dims with the same element order.
    /// </summary>
    public static (int[] Shape, int[][] Strides) Coalesce(ReadOnlySpan<int> shape, params int[][] strides)
    {
        var outShape = new List<int>(shape.Length);
        var outStrides = new List<int>[strides.Length];
        for (int k = 0; k < strides.Length; k++) outStrides[k] = new List<int>(shape.Length);
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] == 1) continue;
            int last = outShape.Count - 1;
            bool merge = last >= 0;
            for (int k = 0; merge && k < strides.Length; k++)
                merge = strides[k][i] == outStrides[k][last] * outShape[last];
            if (merge)
            {
                outShape[last] *= shape[i];
            }
            else
            {
                outShape.Add(shape[i]);
                for (int k = 0; k < strides.Length; k++) outStrides[k].Add(strides[k][i]);
            }
        }
        outShape.Reverse();
        var rs = new int[strides.Length][];
        for (int k = 0; k < strides.Length; k++)
        {
            outStrides[k].Reverse();
            rs[k] = [.. outStrides[k]];
        }
        if (outShape.Count == 0)
        {
            outShape.Add(1);
            for (int k = 0; k < strides.Length; k++) rs[k] = [1];
        }
        return ([.. outShape], rs);
    }

    /// <summary>Advances an odometer over all dimensions but the last; returns false when done.</summary>
    public static bool Next(int[] index, int[] shape, int[][] strides, int[] offsets)
    {
        for (int d = shape.Length - 2; d >= 0; d--)
        {
            index[d]++;
            for (int k = 0; k < offsets.Length; k++) offsets[k] += strides[k][d];
            if (index[d] < shape[d]) return true;
            for (int k = 0; k < offsets.Length; k++) offsets[k] -= strides[k][d] * shape[d];
            index[d] = 0;
        }
        return false;
    }

    // src: strided view (shape, strides, offset) -> dst: contiguous, same shape
    public static void Copy<T>(T[] src, int offset, int[] shape, int[] strides, Span<T> dst)
    {
        if (dst.Length == 0) return;
        var (cs, st) = Coalesce(shape, strides, Shapes.ContiguousStrides(shape));
        int[] s = st[0];
        int inner = cs[^1], innerStride = s[^1];
        var index = new int[cs.Length];
        var offsets = new[] { offset, 0 };
        var dstStrides = st[1];
        do
        {
            var row = dst.Slice(offsets[1], inner);
            if (innerStride == 1)
            {
                src.AsSpan(offsets[0], inner).CopyTo(row);
            }
            else
            {
                int o = offsets[0];
                for (int j = 0; j < inner; j++, o += innerStride) row[j] = src[o];
            }
        } while (Next(index, cs, st, offsets)); // st: [s, dstStrides], not a new array per row
    }

    // src: strided view (shape, srcStrides (0 where broadcast), srcOffset) -> dst: strided view (shape, dstStrides,
    // dstOffset), element by element in row-major order
    public static void CopyInto<T>(T[] src, int srcOffset, int[] srcStrides, T[] dst, int dstOffset, int[] dstStrides, int[] shape)
    {
        var (cs, st) = Coalesce(shape, dstStrides, srcStrides);
        var index = new int[cs.Length];
        var offsets = new[] { dstOffset, srcOffset };
        int inner = cs[^1], sd = st[0][^1], ss = st[1][^1];
        do
        {
            if (sd == 1 && ss == 1) src.AsSpan(offsets[1], inner).CopyTo(dst.AsSpan(offsets[0], inner));
            else
            {
                int od = offsets[0], os = offsets[1];
                for (int j = 0; j < inner; j++, od += sd, os += ss) dst[od] = src[os];
            }
        } while (Next(index, cs, st, offsets));
    }
}
