using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpgrad.Kernels;

// Gemm's products that read their operands in place without packing: the vector-matrix product of one row and
// the dot-product tiles of few rows (see the class comment in Gemm.cs).
internal static partial class Gemm
{
    // a: (1,k) contiguous, b: (k,n) at b[p*rsB + j*csB] -> c: (1,n) += a b. Columns of b contiguous (a transposed
    // weight): one dot product per output; rows contiguous: c += a[p] b[p,:] row by row; else element by element.
    private static unsafe void Gemv<T>(int n, int k, ReadOnlySpan<T> a, ReadOnlySpan<T> b, int rsB, int csB, Span<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var av = a[..k];
        var path = Path;
        if (rsB == 1 && (path == KernelPath.Vector512 && k >= Vector512<T>.Count || path == KernelPath.Vector256 && k >= Vector256<T>.Count && !GemvAvx2Off))
        {
            fixed (T* ap = av)
            fixed (T* bp = b)
            fixed (T* cp = c)
            {
                // bound by reading b: two threads read half each into their own caches (the columns' sums do not
                // depend on the split)
                int quads = (n + 3) / 4;
                if (Parallelism.Threads < 2 || Parallelism.InChunk || (long)n * k < ParallelGemvMacs || quads < 2)
                {
                    GemvColumns(path, n, k, ap, bp, csB, cp);
                    return;
                }
                var job = GemvJob<T>.Take();
                try
                {
                    job.Set(path, n, k, ap, bp, csB, cp);
                    Parallelism.For(quads, job.Body);
                }
                finally
                {
                    job.Set(path, 0, 0, null, null, 0, null);
                    GemvJob<T>.Give(job);
                }
            }
        }
        else if (rsB == 1 || k == 1)
        {
            for (int j = 0; j < n; j++) c[j] += System.Numerics.Tensors.TensorPrimitives.Dot(av, b.Slice(j * csB, k));
        }
        else if (csB == 1)
        {
            var cv = c[..n];
            for (int p = 0; p < k; p++) System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(b.Slice(p * rsB, n), av[p], cv, cv);
        }
        else
        {
            for (int j = 0; j < n; j++)
            {
                T s = T.Zero;
                for (int p = 0; p < k; p++) s += av[p] * b[p * rsB + j * csB];
                c[j] += s;
            }
        }
    }

    /// <summary>Whether AVX2 leaves a vector-matrix product to one TensorPrimitives.Dot per column: the benchmarks' switch, off otherwise.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (Predict at batch 1, alternating windows in one process): mlp
    // (784 -> 256 -> 10) 2.51x (median 2.25x): four columns share each load of x and the columns split over the two
    // threads, each reading its half of the weight; lenet5 1.05x (1.17x)
    internal static bool GemvAvx2Off;

    /// <summary>Multiply-adds from which a vector-matrix product with contiguous columns is split over threads.</summary>
    private const long ParallelGemvMacs = 1 << 16;

    // one threaded vector-matrix product, split by groups of four columns; cached per thread (no closure per call)
    private sealed unsafe class GemvJob<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static GemvJob<T>? t_cached;

        private KernelPath _path;
        private int _n, _k, _csB;
        private T* _a, _b, _c;
        public readonly Action<int, int, int> Body;

        private GemvJob() => Body = Run;

        public static GemvJob<T> Take()
        {
            var job = t_cached ?? new GemvJob<T>();
            t_cached = null;
            return job;
        }

        public static void Give(GemvJob<T> job) => t_cached = job;

        public void Set(KernelPath path, int n, int k, T* a, T* b, int csB, T* c)
        {
            _path = path; _n = n; _k = k; _csB = csB;
            _a = a; _b = b; _c = c;
        }

        // columns [4 q0, 4 q1)
        private void Run(int chunk, int q0, int q1)
        {
            int j0 = 4 * q0, j1 = Math.Min(_n, 4 * q1);
            GemvColumns(_path, j1 - j0, _k, _a, _b + (long)j0 * _csB, _csB, _c + j0);
        }
    }

    // GemvColumns on the path's registers (Vector512 or Vector256, k at least one register)
    private static unsafe void GemvColumns<T>(KernelPath path, int n, int k, T* a, T* b, int csB, T* c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (path == KernelPath.Vector512)
        {
            int w = Vector512<T>.Count;
            GemvColumns<Lanes512<T>, Vector512<T>, T>(n, k, a, b, csB, c, Vector512.GreaterThanOrEqual(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(w - k % w))));
        }
        else
        {
            int w = Vector256<T>.Count;
            GemvColumns<Lanes256<T>, Vector256<T>, T>(n, k, a, b, csB, c, Vector256.GreaterThanOrEqual(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(w - k % w))));
        }
    }

    // a: (k) contiguous, b: n columns of k contiguous values at stride csB -> c: (n) += a b. Four columns at a time
    // share each load of a (four accumulators in flight; a batch-1 Linear layer reads its weight once, so this is
    // bound by reading b); the last k % w products come from overlapping loads of a and b with the lanes already
    // summed masked off in both (last: a mask of the last k % w lanes; an infinite value of b there would otherwise
    // give 0 inf = NaN). Each column's sum: lanes in order, then their sum in lane order.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemvColumns<TL, TV, T>(int n, int k, T* a, T* b, int csB, T* c, TV last)
        where TL : struct, ILanes<TV, T> where TV : struct where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = TL.Count, r = k % w;
        nuint tail = (nuint)(k - w);
        ref T ra = ref Unsafe.AsRef<T>(a);
        int j = 0;
        for (; j <= n - 4; j += 4)
        {
            ref T b0 = ref Unsafe.AsRef<T>(b + (long)j * csB);
            ref T b1 = ref Unsafe.Add(ref b0, csB);
            ref T b2 = ref Unsafe.Add(ref b1, csB);
            ref T b3 = ref Unsafe.Add(ref b2, csB);
            TV s0 = TL.Zero, s1 = TL.Zero, s2 = TL.Zero, s3 = TL.Zero;
            nuint q = 0;
            for (; (int)q <= k - w; q += (nuint)w)
            {
                var x = TL.Load(ref ra, q);
                s0 = TL.MultiplyAdd(x, TL.Load(ref b0, q), s0);
                s1 = TL.MultiplyAdd(x, TL.Load(ref b1, q), s1);
                s2 = TL.MultiplyAdd(x, TL.Load(ref b2, q), s2);
                s3 = TL.MultiplyAdd(x, TL.Load(ref b3, q), s3);
            }
            if (r > 0)
            {
                var x = TL.LoadMasked(ref ra, tail, last);
                s0 = TL.MultiplyAdd(x, TL.LoadMasked(ref b0, tail, last), s0);
                s1 = TL.MultiplyAdd(x, TL.LoadMasked(ref b1, tail, last), s1);
                s2 = TL.MultiplyAdd(x, TL.LoadMasked(ref b2, tail, last), s2);
                s3 = TL.MultiplyAdd(x, TL.LoadMasked(ref b3, tail, last), s3);
            }
            c[j] += TL.Sum(s0);
            c[j + 1] += TL.Sum(s1);
            c[j + 2] += TL.Sum(s2);
            c[j + 3] += TL.Sum(s3);
        }
        for (; j < n; j++)
        {
            ref T bj = ref Unsafe.AsRef<T>(b + (long)j * csB);
            var s0 = TL.Zero;
            nuint q = 0;
            for (; (int)q <= k - w; q += (nuint)w) s0 = TL.MultiplyAdd(TL.Load(ref ra, q), TL.Load(ref bj, q), s0);
            if (r > 0) s0 = TL.MultiplyAdd(TL.LoadMasked(ref ra, tail, last), TL.LoadMasked(ref bj, tail, last), s0);
            c[j] += TL.Sum(s0);
        }
    }

    private const int DotRows = 2, DotCols = 4;

    /// <summary>
    /// At most this many rows of A: the in-place dot products (<see cref="DotBlock"/>) rather than packing. With more
    /// rows the packed microkernel's reuse wins (mlp x W^T, 256 x 256 x 784 on the AVX-512 Xeon: 61 -> 113 GFLOP/s on
    /// one thread); with fewer (a convolution's weight gradient, 16-32 filters) packing costs more than it saves
    /// (lenet5 16 x 150 x 100: 60 against 19 GFLOP/s).
    /// </summary>
    private const int DotMaxRows = 48;

    /// <summary>
    /// From this depth the Vector512 path runs 16-lane dot tiles. Measured on the 2-core AVX-512 EPYC (two threads,
    /// alternating): the exam CNN's last layer at batch 256 (k = 784) 36 -> 25 us, the mlp's (k = 256) 14.5 -> 13 us;
    /// at k = 196 both alike (16.2-16.5 against 15.8-16.9 us), at k = 100 the 8-lane tiles faster (8.1-8.2 against
    /// 8.9-9.3 us: the fold and the longer masked tail cost more than the halved loop saves).
    /// </summary>
    private const int WideDotDepth = 256;

    // c[i0:i1, j0:j1] (+)= a b with a's rows (csA = 1) and b's columns (rsB = 1) contiguous: 2 x 4 tiles of dot
    // products, 8 lanes of partial sums each (16 on the Vector512 path from WideDotDepth, folded to 8 at the end), the
    // last k % v products from an overlapping load with the lanes already summed masked off, reduced at the end. A
    // ragged tile runs the same operations element by element, so every element is the same sum whichever tile it
    // falls in.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotBlock<T>(in Problem<T> p, int i0, int i1, int j0, int j1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = p.K;
        bool wide = p.Path == KernelPath.Vector512 && k >= WideDotDepth;
        int v = wide ? Vector512<T>.Count : Vector256<T>.Count, r = k % v;
        var mask = Vector256.GreaterThanOrEqual(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(v - r)));
        var mask512 = Vector512.GreaterThanOrEqual(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(v - r)));
        for (int j = j0; j < j1; j += DotCols)
        {
            int nb = Math.Min(DotCols, j1 - j);
            T* b0 = p.B + (long)j * p.CsB;
            for (int i = i0; i < i1; i += DotRows)
            {
                int mb = Math.Min(DotRows, i1 - i);
                T* a0 = p.A + (long)i * p.RsA;
                T* c = p.C + (long)i * p.Ldc + j;
                if (mb == DotRows && nb == DotCols)
                {
                    if (wide) Dot2x4x512(k, r, mask512, a0, p.RsA, b0, p.CsB, c, p.Ldc, p.Accumulate);
                    else Dot2x4(k, r, mask, a0, p.RsA, b0, p.CsB, c, p.Ldc, p.Accumulate);
                }
                else
                {
                    for (int ii = 0; ii < mb; ii++)
                        for (int jj = 0; jj < nb; jj++)
                        {
                            T* ai = a0 + (long)ii * p.RsA, bj = b0 + (long)jj * p.CsB;
                            T s = wide ? Lanes(Fold(Dot1x512(k, r, mask512, ai, bj))) : Dot1(k, r, mask, ai, bj);
                            T* cij = c + (long)ii * p.Ldc + jj;
                            *cij = p.Accumulate ? *cij + s : s;
                        }
                }
            }
        }
    }

    // the 512-bit tiles (the Vector512 path, k at least one register): 16 lanes of partial sums, folded to 8 (lower +
    // upper half) and then reduced as the 256-bit tiles are, so every element of a call is the same sum whichever tile
    // it falls in (mlp's narrow last layer as C^T, 10 x 256 x 256; the im2col weight gradients)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fold<T>(Vector512<T> v) => v.GetLower() + v.GetUpper();

    // the 16 lanes of partial sums of a . b over k (the last k % 16 products from an overlapping load, lanes already
    // summed masked off)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe Vector512<T> Dot1x512<T>(int k, int r, Vector512<T> mask, T* a, T* b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector512<T>.Count;
        var acc = Vector512<T>.Zero;
        int q = 0;
        for (; q <= k - v; q += v) acc = Fma(Vector512.Load(a + q), Vector512.Load(b + q), acc);
        if (r > 0) acc = Fma(Vector512.Load(a + k - v) & mask, Vector512.Load(b + k - v) & mask, acc);
        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dot2x4x512<T>(int k, int r, Vector512<T> mask, T* a0, int rsA, T* b0, int csB, T* c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector512<T>.Count;
        T* a1 = a0 + rsA, b1 = b0 + csB, b2 = b1 + csB, b3 = b2 + csB;
        Vector512<T> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        int q = 0;
        for (; q <= k - v; q += v)
        {
            var x0 = Vector512.Load(a0 + q);
            var x1 = Vector512.Load(a1 + q);
            var y = Vector512.Load(b0 + q); c00 = Fma(x0, y, c00); c10 = Fma(x1, y, c10);
            y = Vector512.Load(b1 + q); c01 = Fma(x0, y, c01); c11 = Fma(x1, y, c11);
            y = Vector512.Load(b2 + q); c02 = Fma(x0, y, c02); c12 = Fma(x1, y, c12);
            y = Vector512.Load(b3 + q); c03 = Fma(x0, y, c03); c13 = Fma(x1, y, c13);
        }
        if (r > 0)
        {
            q = k - v;
            var x0 = Vector512.Load(a0 + q) & mask;
            var x1 = Vector512.Load(a1 + q) & mask;
            var y = Vector512.Load(b0 + q) & mask; c00 = Fma(x0, y, c00); c10 = Fma(x1, y, c10);
            y = Vector512.Load(b1 + q) & mask; c01 = Fma(x0, y, c01); c11 = Fma(x1, y, c11);
            y = Vector512.Load(b2 + q) & mask; c02 = Fma(x0, y, c02); c12 = Fma(x1, y, c12);
            y = Vector512.Load(b3 + q) & mask; c03 = Fma(x0, y, c03); c13 = Fma(x1, y, c13);
        }
        Put4(c, Fold(c00), Fold(c01), Fold(c02), Fold(c03), accumulate);
        Put4(c + ldc, Fold(c10), Fold(c11), Fold(c12), Fold(c13), accumulate);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe T Dot1<T>(int k, int r, Vector256<T> mask, T* a, T* b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector256<T>.Count;
        var acc = Vector256<T>.Zero;
        int q = 0;
        for (; q <= k - v; q += v) acc = Fma(Vector256.Load(a + q), Vector256.Load(b + q), acc);
        if (r > 0) acc = Fma(Vector256.Load(a + k - v) & mask, Vector256.Load(b + k - v) & mask, acc);
        return Lanes(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Dot2x4<T>(int k, int r, Vector256<T> mask, T* a0, int rsA, T* b0, int csB, T* c, int ldc, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector256<T>.Count;
        T* a1 = a0 + rsA, b1 = b0 + csB, b2 = b1 + csB, b3 = b2 + csB;
        Vector256<T> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        int q = 0;
        for (; q <= k - v; q += v)
        {
            var x0 = Vector256.Load(a0 + q);
            var x1 = Vector256.Load(a1 + q);
            var y = Vector256.Load(b0 + q); c00 = Fma(x0, y, c00); c10 = Fma(x1, y, c10);
            y = Vector256.Load(b1 + q); c01 = Fma(x0, y, c01); c11 = Fma(x1, y, c11);
            y = Vector256.Load(b2 + q); c02 = Fma(x0, y, c02); c12 = Fma(x1, y, c12);
            y = Vector256.Load(b3 + q); c03 = Fma(x0, y, c03); c13 = Fma(x1, y, c13);
        }
        if (r > 0)
        {
            q = k - v;
            var x0 = Vector256.Load(a0 + q) & mask;
            var x1 = Vector256.Load(a1 + q) & mask;
            var y = Vector256.Load(b0 + q) & mask; c00 = Fma(x0, y, c00); c10 = Fma(x1, y, c10);
            y = Vector256.Load(b1 + q) & mask; c01 = Fma(x0, y, c01); c11 = Fma(x1, y, c11);
            y = Vector256.Load(b2 + q) & mask; c02 = Fma(x0, y, c02); c12 = Fma(x1, y, c12);
            y = Vector256.Load(b3 + q) & mask; c03 = Fma(x0, y, c03); c13 = Fma(x1, y, c13);
        }
        Put4(c, c00, c01, c02, c03, accumulate);
        Put4(c + ldc, c10, c11, c12, c13, accumulate);
    }

    // c[0..4] (+)= the lanes of s0..s3 each summed in Lanes' order (four reductions at once where AVX allows)
    private static unsafe void Put4<T>(T* c, Vector256<T> s0, Vector256<T> s1, Vector256<T> s2, Vector256<T> s3, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float) && Avx.IsSupported)
        {
            // four reductions at once, in Lanes' order: hadd pairs, hadd again, then the two 128-bit halves
            var h = Avx.HorizontalAdd(Avx.HorizontalAdd(s0.AsSingle(), s1.AsSingle()), Avx.HorizontalAdd(s2.AsSingle(), s3.AsSingle()));
            var t = h.GetLower() + h.GetUpper();
            float* cf = (float*)c;
            if (accumulate) t = Vector128.Load(cf) + t;
            t.Store(cf);
            return;
        }
        T t0 = Lanes(s0), t1 = Lanes(s1), t2 = Lanes(s2), t3 = Lanes(s3);
        if (accumulate) { c[0] += t0; c[1] += t1; c[2] += t2; c[3] += t3; }
        else { c[0] = t0; c[1] = t1; c[2] = t2; c[3] = t3; }
    }

    // the lanes of v summed pairwise in a fixed order: ((0+1)+(2+3))+((4+5)+(6+7)) for 8 lanes, (0+1)+(2+3) for 4
    private static T Lanes<T>(Vector256<T> v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T q0 = (v.GetElement(0) + v.GetElement(1)) + (v.GetElement(2) + v.GetElement(3));
        if (Vector256<T>.Count == 4) return q0;
        return q0 + ((v.GetElement(4) + v.GetElement(5)) + (v.GetElement(6) + v.GetElement(7)));
    }
}
