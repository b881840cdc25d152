using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Sharpgrad.Kernels;

/// <summary>
/// Accurate, vectorized, deterministic summation: pairwise (cascade) summation over blocks, each block summed by
/// <see cref="TensorPrimitives.Sum{T}(ReadOnlySpan{T})"/>. A plain running sum of n float32 values can be off by
/// about n * 2^-24 of the sum's magnitude (16,777,216 + 1 rounds back to 16,777,216); pairwise summation bounds the
/// error by about (b + log2(n / b)) * 2^-24 * sum |x| with b the elements one vector lane adds in a block
/// (Higham, "The accuracy of floating point summation", SIAM J. Sci. Comput. 14, 1993), and in practice by a few
/// units in the last place. The split points depend only on the length, so results are bitwise reproducible.
/// </summary>
internal static class Summation
{
    /// <summary>
    /// Bytes summed by one vectorized call: 1 KB, 256 float32 or 128 float64 values, at most 32 additions in each lane
    /// of a 256-bit vector (16 of a 512-bit one).
    /// </summary>
    public const int BlockBytes = 1024;

    /// <summary>Rows added one after another before the column sum splits in halves.</summary>
    public const int RowBlock = 8;

    // x: (n) -> sum(x), pairwise over blocks of BlockBytes
    public static T Sum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int block = BlockBytes / Unsafe.SizeOf<T>();
        if (x.Length <= block) return TensorPrimitives.Sum(x);
        int half = (x.Length / block + 1) / 2 * block; // split on a block boundary, so the blocks do not depend on the depth
        return Sum(x[..half]) + Sum(x[half..]);
    }

    // x: (n) -> sum(x), the plain reference: pairwise over single elements, scalar (the test oracle)
    public static T SumReference<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length == 0) return T.Zero;
        if (x.Length == 1) return x[0];
        int half = x.Length / 2;
        return SumReference(x[..half]) + SumReference(x[half..]);
    }

    // x: (rows, cols) row-major -> y: (cols), y[j] = sum_i x[i, j], pairwise over the rows (blocks of RowBlock rows
    // added in order), each row added with one vectorized pass
    public static void SumColumns<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows <= RowBlock)
        {
            SumColumnsRunning(x, rows, cols, y);
            return;
        }
        int depth = 1;
        for (int r = rows; r > RowBlock; r = (r + 1) / 2) depth++;
        var scratch = ArrayPool<T>.Shared.Rent(depth * cols);
        try
        {
            SumColumnsPairwise(x, rows, cols, y, scratch.AsSpan(0, depth * cols));
        }
        finally
        {
            ArrayPool<T>.Shared.Return(scratch);
        }
    }

    private static void SumColumnsPairwise<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> y, Span<T> scratch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows <= RowBlock)
        {
            SumColumnsRunning(x, rows, cols, y);
            return;
        }
        int top = (rows / RowBlock + 1) / 2 * RowBlock;
        if (top >= rows) top = rows / 2;
        var lower = scratch[..cols];
        SumColumnsPairwise(x[..(top * cols)], top, cols, y, scratch[cols..]);
        SumColumnsPairwise(x[(top * cols)..], rows - top, cols, lower, scratch[cols..]);
        TensorPrimitives.Add(y, lower, y);
    }

    private static void SumColumnsRunning<T>(ReadOnlySpan<T> x, int rows, int cols, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        x[..cols].CopyTo(y);
        for (int i = 1; i < rows; i++) TensorPrimitives.Add(y, x.Slice(i * cols, cols), y);
    }
}
