using System.Numerics;

namespace Sharpgrad.Kernels;

/// <summary>The plain triple loop, kept as the oracle for <see cref="Gemm"/>.</summary>
internal static class GemmReference
{
    // a: (m,k) at a[i*rsA + p*csA], b: (k,n) at b[p*rsB + j*csB] -> c: (m,n) at c[i*ldc + j]
    public static unsafe void Multiply<T>(int m, int n, int k,
        ReadOnlySpan<T> a, int rsA, int csA,
        ReadOnlySpan<T> b, int rsB, int csB,
        Span<T> c, int ldc, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int p = 0; p < k; p++) s += a[i * rsA + p * csA] * b[p * rsB + j * csB];
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + s : s;
            }
        }
    }
}
