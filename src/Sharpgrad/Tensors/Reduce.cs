using System.Numerics;
using System.Numerics.Tensors;
using Sharpgrad.Kernels;

namespace Sharpgrad;

internal static class Reduce
{
    /// <summary>Below this many kept elements a leading-axes reduction transposes and folds rows instead of columns
    /// (one vectorized call per row of a few elements would cost more than the copy).</summary>
    private const int MinColumns = 16;

    /// <summary>Validates and sorts axes; an empty list means every axis.</summary>
    public static int[] Axes(string op, Tensor x, int[] axes)
    {
        if (axes.Length == 0) return [.. Enumerable.Range(0, x.Rank)];
        if (x.Rank == 0)
        {
            // as PyTorch: a zero-dimensional tensor takes axis 0 or -1, and reducing over it leaves it as it is
            foreach (int a in axes)
                if (a is not (0 or -1)) throw new ArgumentException($"{op}: axis {a} is out of range for a zero-dimensional tensor (expected 0 or -1).");
            return [];
        }
        var set = new SortedSet<int>();
        foreach (int a in axes)
            if (!set.Add(Shapes.NormalizeAxis(op, a, x.Rank, x.Dims)))
                throw new ArgumentException($"{op}: axis {a} appears twice in {Shapes.Format(axes)}.");
        return [.. set];
    }

    /// <summary>The reduced shape with size-1 dimensions kept at <paramref name="axes"/>.</summary>
    public static int[] KeepShape(int[] dims, int[] axes)
    {
        var s = (int[])dims.Clone();
        foreach (int a in axes) s[a] = 1;
        return s;
    }

    // x: (d0..dn), axes (sorted) -> y: x's shape with reduced axes removed (or 1 with keepDim)
    public static Tensor Run<TR>(string op, Tensor x, int[] axes, bool keepDim, TR r) where TR : struct, IReduction
    {
        var keep = KeepShape(x.Dims, axes);
        var outShape = keepDim ? keep : [.. x.Dims.Where((_, i) => !axes.Contains(i))];
        var y = Tensor.Empty(x.DType, outShape);
        if (x.DType == DType.Float32) Run<float, TR>(op, x, axes, r, y.Span<float>());
        else Run<double, TR>(op, x, axes, r, y.Span<double>());
        return y;
    }

    private static void Run<T, TR>(string op, Tensor x, int[] axes, TR r, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T> where TR : struct, IReduction
    {
        int rank = x.Rank, k = axes.Length;
        int inner = 1;
        foreach (int a in axes) inner *= x.Dims[a];
        if (inner == 0)
        {
            if (typeof(TR) == typeof(MaxReduction) && y.Length > 0)
                throw new ArgumentException($"{op}: cannot reduce over an empty dimension (shape {Shapes.Format(x.Dims)}, axes {Shapes.Format(axes)}); the maximum of nothing is undefined.");
            y.Clear();
            return;
        }
        if (y.Length == 0) return; // a zero-size axis that is kept: an empty result
        bool trailing = true, leading = true;
        for (int i = 0; i < k; i++)
        {
            trailing &= axes[i] == rank - k + i;
            leading &= axes[i] == i;
        }
        int outer = y.Length;
        if (leading && !trailing && x.IsContiguous && outer >= MinColumns)
        {
            // x viewed as (inner, outer): fold rows element-wise into y (pairwise for sums, so that the error does
            // not grow with the number of rows)
            var xs = x.Span<T>();
            if (r.Pairwise)
            {
                Summation.SumColumns(xs, inner, outer, y);
                return;
            }
            xs[..outer].CopyTo(y);
            for (int i = 1; i < inner; i++) r.Combine<T>(y, xs.Slice(i * outer, outer), y);
            return;
        }
        Tensor xc = x;
        if (!(trailing && x.IsContiguous))
        {
            var perm = new int[rank];
            int p = 0;
            for (int i = 0; i < rank; i++) if (!axes.Contains(i)) perm[p++] = i;
            foreach (int a in axes) perm[p++] = a;
            xc = x.PermuteRaw(perm).ContiguousRaw();
        }
        // xc viewed as (outer, inner): fold each row (a leading-axes reduction with few columns lands here too: when
        // outer is 1 the tensor already is that one row, otherwise the transposed copy is made above)
        var s = xc.Span<T>();
        for (int i = 0; i < y.Length; i++) y[i] = r.Row(s.Slice(i * inner, inner));
    }
}
