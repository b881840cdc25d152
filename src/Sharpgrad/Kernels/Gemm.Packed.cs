using System.Numerics;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

// Gemm with B packed once for many calls (a Linear layer's weights in evaluation): the panels, the packing and the
// product that reads them (see the class comment in Gemm.cs).
internal static partial class Gemm
{
    /// <summary>
    /// B packed once for every call (a layer's weights): for each pass over K (<see cref="KcStep"/>), all of B's
    /// columns as NR-wide panels, each (kc, NR) row-major and zero-padded, as <see cref="Block"/> packs them per call.
    /// Made for one kernel path (its NR); a call on another path packs as usual.
    /// </summary>
    internal sealed class PackedB<T> where T : unmanaged
    {
        internal PackedB(KernelPath path, int nr, int k, int n, T[] data) => (Path, Nr, K, N, Data) = (path, nr, k, n, data);

        public KernelPath Path { get; }
        public int Nr { get; }
        public int K { get; }
        public int N { get; }
        /// <summary>(K, RoundUp(N, Nr)) floats: pass t (K rows from t * KcStep(K)) at t * KcStep(K) * RoundUp(N, Nr), its panel of columns j.. at j * kc within it.</summary>
        public T[] Data { get; }
    }

    /// <summary>
    /// Whether a product of this shape and layout packs B (the packed microkernel path: not one row, not the
    /// dot-product tiles, not a narrow C computed transposed), so that a <see cref="PackedB{T}"/> would be used.
    /// </summary>
    internal static bool PacksB<T>(int m, int n, int k, int csA, int rsB, int csB) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var path = Path;
        if (m <= 1 || k == 0 || path == KernelPath.Scalar) return false;
        bool dot = m <= DotMaxRows && csA == 1 && rsB == 1 && k >= Vector256<T>.Count && Vector256.IsHardwareAccelerated;
        return !dot && !(2 * n <= NR<T>(path) && m > n) && !(csB == 1 && m <= InPlaceBRows);
    }

    /// <summary>b: (k,n) at b[p*rsB + j*csB] -> its panels for the current kernel path (<see cref="PackedB{T}"/>).</summary>
    internal static unsafe PackedB<T> PackB<T>(int k, int n, ReadOnlySpan<T> b, int rsB, int csB) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (k < 1 || n < 1 || (long)(k - 1) * rsB + (long)(n - 1) * csB >= b.Length)
            throw new ArgumentException($"Gemm.PackB: operand of {b.Length} elements too short for k={k} n={n}.", nameof(b));
        var path = Path;
        int nr = NR<T>(path), nPad = RoundUp(n, nr), step = KcStep(k);
        var data = new T[(long)k * nPad];
        fixed (T* bp = b)
        fixed (T* dp = data)
            for (int pc = 0; pc < k; pc += step)
                PackB(bp, rsB, csB, pc, Math.Min(step, k - pc), 0, n, nr, dp + (long)pc * nPad);
        return new PackedB<T>(path, nr, k, n, data);
    }

    /// <summary>
    /// <see cref="Multiply{T}(int, int, int, ReadOnlySpan{T}, int, int, ReadOnlySpan{T}, int, int, Span{T}, int, bool, ReadOnlySpan{T}, bool)"/> with B already packed (<see cref="PackB{T}(int, int, ReadOnlySpan{T}, int, int)"/>):
    /// the same sums in the same order, so the same bits. Falls back to packing per call when the product would not
    /// pack B (<see cref="PacksB{T}"/>) or the panels were made for another kernel path; <paramref name="b"/> must be
    /// the operand the panels were packed from.
    /// </summary>
    public static unsafe void MultiplyPacked<T>(int m, int n, int k,
        ReadOnlySpan<T> a, int rsA, int csA,
        ReadOnlySpan<T> b, int rsB, int csB, PackedB<T>? packed,
        Span<T> c, int ldc, bool accumulate, ReadOnlySpan<T> bias = default, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (packed is null || packed.Path != Path || packed.K != k || packed.N != n || !PacksB<T>(m, n, k, csA, rsB, csB) || m == 0
            || (long)(m - 1) * rsA + (long)(k - 1) * csA >= a.Length || (long)(m - 1) * ldc + n > c.Length || ldc < n)
        {
            Multiply(m, n, k, a, rsA, csA, b, rsB, csB, c, ldc, accumulate, bias, relu);
            return;
        }
        if (!bias.IsEmpty && bias.Length < n)
            throw new ArgumentException($"Gemm: bias of {bias.Length} elements for n={n} columns.", nameof(bias));
        fixed (T* ap = a)
        fixed (T* bp = packed.Data)
        fixed (T* cp = c)
        fixed (T* biasp = bias)
        {
            var p = new Problem<T>(Path, false, packed.Nr, m, n, k, ap, rsA, csA, bp, 0, 0, cp, ldc, accumulate, biasp, relu, prepacked: true);
            Launch(in p);
        }
    }
}
