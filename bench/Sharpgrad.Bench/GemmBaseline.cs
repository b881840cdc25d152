using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

using Sharpgrad;

namespace Sharpgrad.Bench;

/// <summary>
/// The GEMM as it was before issue #11's rewrite (commit 6b2c47c), kept here only so that GemmShapeBenchmarks can
/// time it against the library's <c>Gemm</c> in one run (its one-row path left out: no benchmark shape has one row).
/// Not used by anything else.
/// General matrix multiply C = A B (+ C) on spans, BLIS-style: B is packed into KC x NR panels and A into MR x KC
/// panels (any strides, so transposed views need no copy), then a register-blocked MR x NR microkernel runs over
/// the packed panels. Vector512, Vector256 and scalar microkernels; scratch comes from <see cref="ArrayPool{T}"/>.
/// </summary>
internal static class GemmBaseline
{
    /// <summary>Which microkernel runs; tests force each one in turn.</summary>
    internal enum KernelPath { Auto, Vector512, Vector256, Scalar }

    [ThreadStatic] private static KernelPath t_forcedPath;

    internal static KernelPath ForcedPath { get => t_forcedPath; set => t_forcedPath = value; }

    private const int MR = 6;
    private const int KC = 256;
    private const int MC = 96;
    private const int NC = 3072;

    internal static KernelPath Path => ForcedPath != KernelPath.Auto ? ForcedPath
        : Vector512.IsHardwareAccelerated ? KernelPath.Vector512
        : Vector256.IsHardwareAccelerated ? KernelPath.Vector256
        : KernelPath.Scalar;

    private static int NR<T>(KernelPath path) => path switch
    {
        KernelPath.Vector512 => 2 * Vector512<T>.Count,
        KernelPath.Vector256 => 2 * Vector256<T>.Count,
        _ => 4,
    };

    // a: (m,k) at a[i*rsA + p*csA], b: (k,n) at b[p*rsB + j*csB] -> c: (m,n) at c[i*ldc + j]; c += ab when accumulate
    public static unsafe void Multiply<T>(int m, int n, int k,
        ReadOnlySpan<T> a, int rsA, int csA,
        ReadOnlySpan<T> b, int rsB, int csB,
        Span<T> c, int ldc, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0) return;
        if (!accumulate)
            for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
        if (k == 0) return;

        var path = Path;
        int nr = NR<T>(path);
        if (2 * n <= nr && m > n)
        {
            // a narrow C (e.g. a Linear layer's 10 outputs) wastes most of each NR-wide panel: compute C^T = B^T A^T
            // instead. Every element is the same products summed in the same order, so the result is identical.
            T[] ct = ArrayPool<T>.Shared.Rent(n * m);
            try
            {
                if (accumulate)
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++) ct[j * m + i] = c[i * ldc + j];
                Multiply<T>(n, m, k, b, csB, rsB, a, csA, rsA, ct, m, accumulate);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) c[i * ldc + j] = ct[j * m + i];
            }
            finally
            {
                ArrayPool<T>.Shared.Return(ct);
            }
            return;
        }
        int ncMax = Math.Min(NC, RoundUp(n, nr));
        int kcMax = Math.Min(KC, k);
        T[] bPack = ArrayPool<T>.Shared.Rent(ncMax * kcMax);
        T[] aPack = ArrayPool<T>.Shared.Rent(Math.Min(MC, RoundUp(m, MR)) * kcMax);
        try
        {
            fixed (T* cp = c)
            {
                nint cAddr = (nint)cp;
                int cLength = c.Length;
                for (int jc = 0; jc < n; jc += NC)
                {
                    int nc = Math.Min(NC, n - jc);
                    int panels = (nc + nr - 1) / nr;
                    for (int pc = 0; pc < k; pc += KC)
                    {
                        int kc = Math.Min(KC, k - pc);
                        PackB(b, rsB, csB, pc, kc, jc, nc, nr, bPack);
                        for (int ic = 0; ic < m; ic += MC)
                        {
                            int mc = Math.Min(MC, m - ic);
                            PackA(a, rsA, csA, ic, mc, pc, kc, aPack);
                            // the B panels of a block are independent: split them across threads when the block is big
                            // enough (each C element is computed by the same calls either way, so the result is identical)
                            if (panels > 1 && (long)mc * nc * kc >= ParallelMacs)
                            {
                                int icc = ic, jcc = jc;
                                Parallelism.For(panels, (_, p0, p1) =>
                                    Panels(path, nr, kc, mc, icc, jcc, p0 * nr, Math.Min(nc, p1 * nr), aPack, bPack, new Span<T>((void*)cAddr, cLength), ldc));
                            }
                            else
                            {
                                Panels(path, nr, kc, mc, ic, jc, 0, nc, aPack, bPack, c, ldc);
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(bPack);
            ArrayPool<T>.Shared.Return(aPack);
        }
    }

    /// <summary>Multiply-adds of one block below which it runs on one thread.</summary>
    private const long ParallelMacs = 1 << 18;

    // the microkernel over B panels [jr0, jr1) of packed block (ic, jc): c[ic.., jc+jr..] += aPack bPack
    private static void Panels<T>(KernelPath path, int nr, int kc, int mc, int ic, int jc, int jr0, int jr1, T[] aPack, T[] bPack, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] tile = ArrayPool<T>.Shared.Rent(MR * nr);
        try
        {
            for (int jr = jr0; jr < jr1; jr += nr)
            {
                int nrEff = Math.Min(nr, jr1 - jr);
                ref T pb = ref bPack[jr * kc];
                for (int ir = 0; ir < mc; ir += MR)
                {
                    int mrEff = Math.Min(MR, mc - ir);
                    ref T pa = ref aPack[ir * kc];
                    if (mrEff == MR && nrEff == nr)
                    {
                        Micro(path, kc, ref pa, ref pb, ref c[(ic + ir) * ldc + jc + jr], ldc);
                    }
                    else
                    {
                        Array.Clear(tile, 0, MR * nr);
                        Micro(path, kc, ref pa, ref pb, ref tile[0], nr);
                        for (int i = 0; i < mrEff; i++)
                        {
                            var dst = c.Slice((ic + ir + i) * ldc + jc + jr, nrEff);
                            var src = tile.AsSpan(i * nr, nrEff);
                            for (int j = 0; j < nrEff; j++) dst[j] += src[j];
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(tile);
        }
    }

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    // b[pc:pc+kc, jc:jc+nc] -> panels of nr columns, each (kc, nr) row-major, zero-padded
    private static void PackB<T>(ReadOnlySpan<T> b, int rsB, int csB, int pc, int kc, int jc, int nc, int nr, Span<T> dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int w = Math.Min(nr, nc - jr);
            var panel = dst.Slice(jr * kc, kc * nr);
            for (int p = 0; p < kc; p++)
            {
                var row = panel.Slice(p * nr, nr);
                int o = (pc + p) * rsB + (jc + jr) * csB;
                if (csB == 1) b.Slice(o, w).CopyTo(row);
                else for (int j = 0; j < w; j++) row[j] = b[o + j * csB];
                if (w < nr) row[w..].Clear();
            }
        }
    }

    // a[ic:ic+mc, pc:pc+kc] -> panels of MR rows, each (kc, MR) row-major, zero-padded
    private static void PackA<T>(ReadOnlySpan<T> a, int rsA, int csA, int ic, int mc, int pc, int kc, Span<T> dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int h = Math.Min(MR, mc - ir);
            var panel = dst.Slice(ir * kc, kc * MR);
            for (int i = 0; i < MR; i++)
            {
                if (i >= h)
                {
                    for (int p = 0; p < kc; p++) panel[p * MR + i] = T.Zero;
                    continue;
                }
                int o = (ic + ir + i) * rsA + pc * csA;
                for (int p = 0; p < kc; p++, o += csA) panel[p * MR + i] = a[o];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Micro<T>(KernelPath path, int kc, ref T pa, ref T pb, ref T pc, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (path)
        {
            case KernelPath.Vector512: Micro512(kc, ref pa, ref pb, ref pc, ldc); break;
            case KernelPath.Vector256: Micro256(kc, ref pa, ref pb, ref pc, ldc); break;
            default: MicroScalar(kc, ref pa, ref pb, ref pc, ldc); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma<T>(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return a * b + c;
    }

    // pa: (kc, 6) packed, pb: (kc, 2w) packed -> c[0..6, 0..2w] += pa pb, w = Vector512<T>.Count
    private static void Micro512<T>(int kc, ref T pa, ref T pb, ref T pc, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.LoadUnsafe(ref pb, (nuint)(p * 2 * w));
            var b1 = Vector512.LoadUnsafe(ref pb, (nuint)(p * 2 * w + w));
            ref T ap = ref Unsafe.Add(ref pa, p * MR);
            var a = Vector512.Create(ap); c00 = Fma(a, b0, c00); c01 = Fma(a, b1, c01);
            a = Vector512.Create(Unsafe.Add(ref ap, 1)); c10 = Fma(a, b0, c10); c11 = Fma(a, b1, c11);
            a = Vector512.Create(Unsafe.Add(ref ap, 2)); c20 = Fma(a, b0, c20); c21 = Fma(a, b1, c21);
            a = Vector512.Create(Unsafe.Add(ref ap, 3)); c30 = Fma(a, b0, c30); c31 = Fma(a, b1, c31);
            a = Vector512.Create(Unsafe.Add(ref ap, 4)); c40 = Fma(a, b0, c40); c41 = Fma(a, b1, c41);
            a = Vector512.Create(Unsafe.Add(ref ap, 5)); c50 = Fma(a, b0, c50); c51 = Fma(a, b1, c51);
        }
        Store(ref pc, 0, c00, c01); Store(ref pc, ldc, c10, c11); Store(ref pc, 2 * ldc, c20, c21);
        Store(ref pc, 3 * ldc, c30, c31); Store(ref pc, 4 * ldc, c40, c41); Store(ref pc, 5 * ldc, c50, c51);

        static void Store(ref T c, int o, Vector512<T> v0, Vector512<T> v1)
        {
            int w = Vector512<T>.Count;
            (Vector512.LoadUnsafe(ref c, (nuint)o) + v0).StoreUnsafe(ref c, (nuint)o);
            (Vector512.LoadUnsafe(ref c, (nuint)(o + w)) + v1).StoreUnsafe(ref c, (nuint)(o + w));
        }
    }

    // pa: (kc, 6) packed, pb: (kc, 2w) packed -> c[0..6, 0..2w] += pa pb, w = Vector256<T>.Count
    private static void Micro256<T>(int kc, ref T pa, ref T pb, ref T pc, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.LoadUnsafe(ref pb, (nuint)(p * 2 * w));
            var b1 = Vector256.LoadUnsafe(ref pb, (nuint)(p * 2 * w + w));
            ref T ap = ref Unsafe.Add(ref pa, p * MR);
            var a = Vector256.Create(ap); c00 = Fma(a, b0, c00); c01 = Fma(a, b1, c01);
            a = Vector256.Create(Unsafe.Add(ref ap, 1)); c10 = Fma(a, b0, c10); c11 = Fma(a, b1, c11);
            a = Vector256.Create(Unsafe.Add(ref ap, 2)); c20 = Fma(a, b0, c20); c21 = Fma(a, b1, c21);
            a = Vector256.Create(Unsafe.Add(ref ap, 3)); c30 = Fma(a, b0, c30); c31 = Fma(a, b1, c31);
            a = Vector256.Create(Unsafe.Add(ref ap, 4)); c40 = Fma(a, b0, c40); c41 = Fma(a, b1, c41);
            a = Vector256.Create(Unsafe.Add(ref ap, 5)); c50 = Fma(a, b0, c50); c51 = Fma(a, b1, c51);
        }
        Store(ref pc, 0, c00, c01); Store(ref pc, ldc, c10, c11); Store(ref pc, 2 * ldc, c20, c21);
        Store(ref pc, 3 * ldc, c30, c31); Store(ref pc, 4 * ldc, c40, c41); Store(ref pc, 5 * ldc, c50, c51);

        static void Store(ref T c, int o, Vector256<T> v0, Vector256<T> v1)
        {
            int w = Vector256<T>.Count;
            (Vector256.LoadUnsafe(ref c, (nuint)o) + v0).StoreUnsafe(ref c, (nuint)o);
            (Vector256.LoadUnsafe(ref c, (nuint)(o + w)) + v1).StoreUnsafe(ref c, (nuint)(o + w));
        }
    }

    // pa: (kc, 6) packed, pb: (kc, 4) packed -> c[0..6, 0..4] += pa pb
    private static void MicroScalar<T>(int kc, ref T pa, ref T pb, ref T pc, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int nr = 4;
        Span<T> acc = stackalloc T[MR * nr];
        acc.Clear();
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < MR; i++)
            {
                T av = Unsafe.Add(ref pa, p * MR + i);
                for (int j = 0; j < nr; j++) acc[i * nr + j] += av * Unsafe.Add(ref pb, p * nr + j);
            }
        }
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < nr; j++) Unsafe.Add(ref pc, i * ldc + j) += acc[i * nr + j];
    }
}

