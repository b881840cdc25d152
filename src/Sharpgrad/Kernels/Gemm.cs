using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Sharpgrad.Kernels;

/// <summary>
/// General matrix multiply C = A B (or C += A B) on spans, BLIS-style (Goto and van de Geijn, "Anatomy of
/// high-performance matrix multiplication", 2008; Van Zee and van de Geijn, "BLIS", 2015): for each pass over K (at
/// most KC deep), B is packed into kc x NR column panels (a block of at most NC columns) and A into MR x kc row panels
/// (a block of at most MC rows), and a register-blocked MR x NR microkernel (6 x 16 floats with Vector256 FMA, 6 x 32
/// with Vector512: 12 accumulators) runs over them; after the last pass it can add a per-column bias and apply a ReLU
/// to the sums in registers (the epilogue), and B may come packed once for many calls (Gemm.Packed.cs). The packing
/// routines read any strides, so transposed operands are read in place without a separate transpose (a transposed
/// float B by 8 x 8 register transposes); on the vector paths a row-major A is not packed at all (the microkernel
/// broadcasts from six row pointers); when A has few rows a row-major B is read in place instead of packed (it would be used only a few
/// times), and when A has few rows and A's rows and B's columns are both contiguous along K (dy col^T) 2 x 4 tiles of
/// dot products read both in place, unpacked. A single row against contiguous columns (a batch-1 Linear layer) is a
/// vector-matrix product, four columns at a time, split by columns over the threads. Big products are split over
/// <see cref="Parallelism"/> threads by whole N (or M) panels, each thread packing its own operands, so there is one
/// fork and join per call; every element of C is the same sum in the same order whatever the split, so the result
/// does not depend on the thread count. Vector512, Vector256 and scalar microkernels (<see cref="ForcedPath"/>
/// picks one in tests); packing buffers come from <see cref="ArrayPool{T}"/> and the threaded job object is cached
/// per thread, so a warm call on one thread allocates nothing (a split one only what <see cref="Parallelism"/>'s
/// fork allocates). <see cref="GemmReference"/> is the test oracle.
/// </summary>
internal static partial class Gemm
{
    /// <summary>Which microkernel runs; tests force each one in turn.</summary>
    internal enum KernelPath { Auto, Vector512, Vector256, Scalar }

    [ThreadStatic] private static KernelPath t_forcedPath;

    internal static KernelPath ForcedPath { get => t_forcedPath; set => t_forcedPath = value; }

    // blocking: MR and MC as BLIS's zen configuration; KC, the longest pass over K, 1024 (passes of equal length,
    // KcStep): on the 2-core AVX-512 EPYC every pass from 512 to 4,096 ran faster than 256 (the mlp's x W^T 354 -> 272
    // us on two threads, 512^3 334 -> 391 GFLOP/s), its B panel then streaming from L2
    private const int MR = 6;
    private const int KC = 1024;
    private const int MC = 144;
    private const int NC = 4080;

    /// <summary>Multiply-adds below which a product runs on the calling thread (a few microseconds of work).</summary>
    private const long ParallelMacs = 1 << 18;

    /// <summary>At most this many rows of A: a row-major B is read in place rather than packed.</summary>
    private const int InPlaceBRows = 8 * MR;

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

    /// <summary>
    /// C = A B, or C += A B when <paramref name="accumulate"/>; then, when given, <paramref name="bias"/>[j] added to
    /// column j and max(., 0) applied (the epilogue, on each tile of C while it is in cache: a Linear layer's bias and
    /// ReLU). a: (m,k) at a[i*rsA + p*csA], b: (k,n) at b[p*rsB + j*csB] (so a transposed operand is the same data
    /// with its strides swapped), c: (m,n) at c[i*ldc + j], bias: (n) or empty. Non-negative strides; the spans must
    /// hold every element those strides address. Each element of C is (sum of products) + bias, the same bits
    /// whichever path computes it.
    /// </summary>
    public static unsafe void Multiply<T>(int m, int n, int k,
        ReadOnlySpan<T> a, int rsA, int csA,
        ReadOnlySpan<T> b, int rsB, int csB,
        Span<T> c, int ldc, bool accumulate, ReadOnlySpan<T> bias = default, bool relu = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m == 0 || n == 0) return;
        if (!bias.IsEmpty && bias.Length < n)
            throw new ArgumentException($"Gemm: bias of {bias.Length} elements for n={n} columns.", nameof(bias));
        bool epilogue = !bias.IsEmpty || relu;
        if (k == 0)
        {
            if (!accumulate)
                for (int i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            if (epilogue) EpilogueRows(m, n, c, ldc, bias, relu);
            return;
        }
        // the extent of each operand, checked once: the packing and the microkernels index by pointer
        if ((long)(m - 1) * rsA + (long)(k - 1) * csA >= a.Length || (long)(k - 1) * rsB + (long)(n - 1) * csB >= b.Length
            || (long)(m - 1) * ldc + n > c.Length || ldc < n)
            throw new ArgumentException($"Gemm: operands too short for m={m} n={n} k={k} (a {a.Length}, b {b.Length}, c {c.Length}, ldc {ldc}).");

        if (m == 1 && (csA == 1 || k == 1))
        {
            // one row (a batch-1 Linear layer): a vector-matrix product without packing
            if (!accumulate) c[..n].Clear();
            Gemv(n, k, a, b, rsB, csB, c);
            if (epilogue) EpilogueRows(1, n, c, ldc, bias, relu);
            return;
        }
        var path = Path;
        // A's rows and B's columns both contiguous along K (x W^T in a Linear layer, dy col^T in a convolution's
        // weight gradient): packing would transpose both, so dot products run on them in place instead
        bool dot = m <= DotMaxRows && csA == 1 && rsB == 1 && k >= Vector256<T>.Count && path != KernelPath.Scalar && Vector256.IsHardwareAccelerated;
        int nr = NR<T>(path);
        if (!dot && 2 * n <= nr && m > n)
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
                if (epilogue) EpilogueRows(m, n, c, ldc, bias, relu);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(ct);
            }
            return;
        }

        fixed (T* ap = a)
        fixed (T* bp = b)
        fixed (T* cp = c)
        fixed (T* biasp = bias)
        {
            var p = new Problem<T>(path, dot, nr, m, n, k, ap, rsA, csA, bp, rsB, csB, cp, ldc, accumulate, biasp, relu);
            Launch(in p);
        }
    }

    // one block on this thread, or split over the threads by whole panels of the larger side
    private static void Launch<T>(in Problem<T> p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = p.M, n = p.N;
        int threads = Parallelism.Threads;
        int nPanels = (n + p.UnitN - 1) / p.UnitN, mPanels = (m + p.UnitM - 1) / p.UnitM;
        // inside another kernel's chunk (a per-image convolution) the chunks would run one after the other: one block
        if (threads < 2 || Parallelism.InChunk || (long)m * n * p.K < ParallelMacs || Math.Max(nPanels, mPanels) < 2)
        {
            Run(in p, 0, m, 0, n);
            return;
        }
        // split the larger side (in panels): each thread packs all of the other operand, which costs least
        bool splitN = nPanels >= threads ? (long)n >= m || mPanels < threads : nPanels >= mPanels;
        var job = Job<T>.Take();
        try
        {
            job.P = p;
            job.SplitN = splitN;
            Parallelism.For(splitN ? nPanels : mPanels, job.Body);
        }
        finally
        {
            job.P = default;
            Job<T>.Give(job);
        }
    }

    private static void Run<T>(in Problem<T> p, int i0, int i1, int j0, int j1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (p.Dot)
        {
            DotBlock(in p, i0, i1, j0, j1);
            if (p.Epilogue) unsafe { Epilogue(p.C + (long)i0 * p.Ldc + j0, p.Ldc, i1 - i0, j1 - j0, p.Bias is null ? null : p.Bias + j0, p.Relu); }
        }
        else Block(in p, i0, i1, j0, j1);
    }

    private readonly unsafe struct Problem<T>(KernelPath path, bool dot, int nr, int m, int n, int k, T* a, int rsA, int csA,
        T* b, int rsB, int csB, T* c, int ldc, bool accumulate, T* bias, bool relu, bool prepacked = false) where T : unmanaged
    {
        /// <summary>B is a <see cref="PackedB{T}"/>'s panels (B points at them), not the operand.</summary>
        public readonly bool Prepacked = prepacked;
        /// <summary>Per-column bias added after the products (null: none), and whether max(., 0) follows.</summary>
        public readonly T* Bias = bias;
        public readonly bool Relu = relu;
        public bool Epilogue => Bias != null || Relu;
        public readonly KernelPath Path = path;
        public readonly bool Dot = dot;
        /// <summary>Columns and rows of C per unit of work: a packed panel, or a dot-product tile.</summary>
        public readonly int UnitN = dot ? DotCols : nr, UnitM = dot ? DotRows : MR;
        public readonly int Nr = nr, M = m, N = n, K = k, RsA = rsA, CsA = csA, RsB = rsB, CsB = csB, Ldc = ldc;
        public readonly T* A = a, B = b, C = c;
        public readonly bool Accumulate = accumulate;
    }

    // one threaded product; cached per thread so that a warm call allocates no closure
    private sealed class Job<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] private static Job<T>? t_cached;

        public Problem<T> P;
        public bool SplitN;
        public readonly Action<int, int, int> Body;

        private Job() => Body = Run;

        public static Job<T> Take()
        {
            var job = t_cached ?? new Job<T>();
            t_cached = null; // a nested call (none today) gets its own
            return job;
        }

        public static void Give(Job<T> job) => t_cached = job;

        // panels [p0, p1) of the split side
        private void Run(int chunk, int p0, int p1)
        {
            if (SplitN) Gemm.Run(in P, 0, P.M, p0 * P.UnitN, Math.Min(P.N, p1 * P.UnitN));
            else Gemm.Run(in P, p0 * P.UnitM, Math.Min(P.M, p1 * P.UnitM), 0, P.N);
        }
    }

    // c[i0:i1, j0:j1] (+)= a[i0:i1, :] b[:, j0:j1] on this thread, with its own packing buffers
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Block<T>(in Problem<T> p, int i0, int i1, int j0, int j1) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = i1 - i0, n = j1 - j0, nr = p.Nr;
        int kcMax = KcStep(p.K);
        int ncMax = Math.Min(NC, RoundUp(n, nr));
        int mcMax = Math.Min(MC, RoundUp(m, MR));
        // a row-major B with few rows of A to use it: read in place (only a ragged last panel is packed)
        bool bInPlace = !p.Prepacked && p.CsB == 1 && m <= InPlaceBRows;
        int nPad = RoundUp(p.N, nr);
        // a row-major A is read in place by the vector microkernels (broadcasts from six row pointers cost what
        // broadcasts from a packed panel cost); only a ragged last panel of fewer than MR rows is packed
        bool aInPlace = p.CsA == 1 && p.Path != KernelPath.Scalar;
        T[] bBuf = ArrayPool<T>.Shared.Rent(p.Prepacked ? 1 : (bInPlace ? nr : ncMax) * kcMax);
        T[] aBuf = ArrayPool<T>.Shared.Rent(mcMax * kcMax);
        try
        {
            fixed (T* bPack = bBuf)
            fixed (T* aPack = aBuf)
            {
                // prepacked panels: all of this thread's columns in one block (NC is not a multiple of every NR)
                int ncStep = p.Prepacked ? j1 - j0 : NC;
                for (int jc = j0; jc < j1; jc += ncStep)
                {
                    int nc = Math.Min(ncStep, j1 - jc);
                    for (int pc = 0; pc < p.K; pc += kcMax)
                    {
                        int kc = Math.Min(kcMax, p.K - pc);
                        bool overwrite = pc == 0 && !p.Accumulate;
                        bool last = pc + kc == p.K && p.Epilogue;
                        T* bPanels = p.Prepacked ? p.B + (long)pc * nPad + (long)jc * kc : bPack;
                        if (!p.Prepacked)
                        {
                            if (!bInPlace) PackB(p.B, p.RsB, p.CsB, pc, kc, jc, nc, nr, bPack);
                            else if (nc % nr != 0) PackB(p.B, p.RsB, p.CsB, pc, kc, jc + nc / nr * nr, nc % nr, nr, bPack);
                        }
                        for (int ic = i0; ic < i1; ic += MC)
                        {
                            int mc = Math.Min(MC, i1 - ic);
                            int ragged = mc / MR * MR;
                            if (!aInPlace) PackA(p.A, p.RsA, p.CsA, ic, mc, pc, kc, aPack);
                            else if (ragged < mc) PackA(p.A, p.RsA, p.CsA, ic + ragged, mc - ragged, pc, kc, aPack);
                            for (int jr = 0; jr < nc; jr += nr)
                            {
                                int nrEff = Math.Min(nr, nc - jr);
                                T* pb; int ldb;
                                if (!bInPlace) { pb = bPanels + jr * kc; ldb = nr; }
                                else if (nrEff == nr) { pb = p.B + (long)pc * p.RsB + jc + jr; ldb = p.RsB; }
                                else { pb = bPack; ldb = nr; }
                                for (int ir = 0; ir < mc; ir += MR)
                                {
                                    int mrEff = Math.Min(MR, mc - ir);
                                    T* pcc = p.C + (long)(ic + ir) * p.Ldc + jc + jr;
                                    // the tile's final sums get the bias and ReLU in registers (a full tile) or as it is copied out
                                    T* bias = last && p.Bias != null ? p.Bias + jc + jr : null;
                                    bool relu = last && p.Relu;
                                    if (aInPlace && mrEff == MR)
                                    {
                                        T* pa = p.A + (long)(ic + ir) * p.RsA + pc;
                                        if (nrEff == nr) Micro(p.Path, kc, pa, p.RsA, 1, pb, ldb, pcc, p.Ldc, overwrite, bias, relu);
                                        else Edge(p.Path, nr, kc, pa, p.RsA, 1, pb, ldb, pcc, p.Ldc, mrEff, nrEff, overwrite, bias, relu);
                                    }
                                    else
                                    {
                                        T* pa = aInPlace ? aPack : aPack + ir * kc;
                                        if (mrEff == MR && nrEff == nr) Micro(p.Path, kc, pa, 1, MR, pb, ldb, pcc, p.Ldc, overwrite, bias, relu);
                                        else Edge(p.Path, nr, kc, pa, 1, MR, pb, ldb, pcc, p.Ldc, mrEff, nrEff, overwrite, bias, relu);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(bBuf);
            ArrayPool<T>.Shared.Return(aBuf);
        }
    }

    // a ragged tile: the full microkernel into a stack tile, then its mrEff x nrEff corner into C
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Edge<T>(KernelPath path, int nr, int kc, T* pa, nint ri, nint rp, T* pb, int ldb, T* c, int ldc, int mrEff, int nrEff, bool overwrite,
        T* bias = null, bool relu = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* tile = stackalloc T[MR * nr];
        // at most half a panel wide (e.g. the last 4 of 100 columns): the one-vector kernel, the same sums
        if (path == KernelPath.Vector256 && 2 * nrEff <= nr) MicroHalf256(kc, pa, ri, rp, pb, ldb, tile, nr);
        else Micro(path, kc, pa, ri, rp, pb, ldb, tile, nr, overwrite: true);
        for (int i = 0; i < mrEff; i++)
        {
            T* dst = c + (long)i * ldc;
            T* src = tile + i * nr;
            if (overwrite) for (int j = 0; j < nrEff; j++) dst[j] = src[j];
            else for (int j = 0; j < nrEff; j++) dst[j] += src[j];
        }
        if (bias != null || relu) Epilogue(c, ldc, mrEff, nrEff, bias, relu);
    }

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    // c[0:m, 0:n] = relu?(c + bias[j]) on spans (the paths that do not tile C)
    private static unsafe void EpilogueRows<T>(int m, int n, Span<T> c, int ldc, ReadOnlySpan<T> bias, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        fixed (T* cp = c)
        fixed (T* bp = bias)
            Epilogue(cp, ldc, m, n, bp, relu);
    }

    // c: (rows, cols) at stride ldc, bias: (cols) or null -> c = c + bias[j], then max(c, 0) when relu: the same
    // operations as TensorPrimitives.Add and Max (the unfused bias and ReLU), so the same bits
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Epilogue<T>(T* c, int ldc, int rows, int cols, T* bias, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        for (int i = 0; i < rows; i++)
        {
            T* r = c + (long)i * ldc;
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; j <= cols - w; j += w)
                {
                    var v = Vector512.Load(r + j);
                    if (bias != null) v += Vector512.Load(bias + j);
                    if (relu) v = Vector512.Max(v, Vector512<T>.Zero);
                    Vector512.Store(v, r + j);
                }
            else if (Vector256.IsHardwareAccelerated)
                for (; j <= cols - Vector256<T>.Count; j += Vector256<T>.Count)
                {
                    var v = Vector256.Load(r + j);
                    if (bias != null) v += Vector256.Load(bias + j);
                    if (relu) v = Vector256.Max(v, Vector256<T>.Zero);
                    Vector256.Store(v, r + j);
                }
            for (; j < cols; j++)
            {
                T v = r[j];
                if (bias != null) v += bias[j];
                r[j] = relu ? T.Max(v, T.Zero) : v;
            }
        }
    }

    // K in passes of at most KC, all but the last the same length (a multiple of 8): 784 = 392 + 392, not 256 x 3 + 16
    private static int KcStep(int k)
    {
        int passes = (k + KC - 1) / KC;
        return Math.Min(k, RoundUp((k + passes - 1) / passes, 8));
    }

    // b[pc:pc+kc, jc:jc+nc] -> panels of nr columns, each (kc, nr) row-major, zero-padded
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB<T>(T* b, int rsB, int csB, int pc, int kc, int jc, int nc, int nr, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int w = Math.Min(nr, nc - jr);
            T* panel = dst + jr * kc;
            T* src = b + (long)pc * rsB + (long)(jc + jr) * csB;
            if (csB == 1)
            {
                if (w == nr && nr % Vector256<T>.Count == 0)
                {
                    int v = Vector256<T>.Count;
                    for (int q = 0; q < kc; q++, src += rsB)
                        for (int j = 0; j < nr; j += v) Vector256.Store(Vector256.Load(src + j), panel + q * nr + j);
                }
                else
                {
                    for (int q = 0; q < kc; q++, src += rsB)
                    {
                        T* row = panel + q * nr;
                        for (int j = 0; j < w; j++) row[j] = src[j];
                        for (int j = w; j < nr; j++) row[j] = T.Zero;
                    }
                }
            }
            else if (rsB == 1 && w == nr && nr % 8 == 0 && typeof(T) == typeof(float) && Avx.IsSupported)
            {
                // a transposed B (x W^T): 8 x 8 blocks transposed in registers, the last kc % 8 rows element by element
                int q = 0;
                for (; q <= kc - 8; q += 8)
                    for (int j = 0; j < nr; j += 8)
                        Transpose8x8((float*)(src + (long)j * csB + q), csB, (float*)(panel + q * nr + j), nr);
                for (; q < kc; q++)
                    for (int j = 0; j < nr; j++) panel[q * nr + j] = src[(long)j * csB + q];
            }
            else
            {
                // columns one by one: with rsB == 1 (a transposed B) each is contiguous
                for (int j = 0; j < w; j++)
                {
                    T* col = src + (long)j * csB;
                    for (int q = 0; q < kc; q++) panel[q * nr + j] = col[(long)q * rsB];
                }
                if (w < nr)
                    for (int q = 0; q < kc; q++)
                        for (int j = w; j < nr; j++) panel[q * nr + j] = T.Zero;
            }
        }
    }

    // src: 8 rows of 8 at stride ld -> dst: their transpose, 8 rows of 8 at stride ldd (unpack, shuffle, then swap
    // the 128-bit halves: the standard AVX 8 x 8 transpose)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Transpose8x8(float* src, int ld, float* dst, int ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + ld);
        var r2 = Avx.LoadVector256(src + 2 * ld); var r3 = Avx.LoadVector256(src + 3 * ld);
        var r4 = Avx.LoadVector256(src + 4 * ld); var r5 = Avx.LoadVector256(src + 5 * ld);
        var r6 = Avx.LoadVector256(src + 6 * ld); var r7 = Avx.LoadVector256(src + 7 * ld);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }

    // a[ic:ic+mc, pc:pc+kc] -> panels of MR rows, each (kc, MR) row-major, zero-padded
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA<T>(T* a, int rsA, int csA, int ic, int mc, int pc, int kc, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int h = Math.Min(MR, mc - ir);
            T* panel = dst + ir * kc;
            T* src = a + (long)(ic + ir) * rsA + (long)pc * csA;
            if (h == MR && csA == 1)
            {
                // row-major A: six rows side by side
                T* r0 = src, r1 = r0 + rsA, r2 = r1 + rsA, r3 = r2 + rsA, r4 = r3 + rsA, r5 = r4 + rsA;
                for (int q = 0; q < kc; q++, panel += MR)
                {
                    panel[0] = r0[q]; panel[1] = r1[q]; panel[2] = r2[q];
                    panel[3] = r3[q]; panel[4] = r4[q]; panel[5] = r5[q];
                }
            }
            else if (h == MR && rsA == 1)
            {
                // a transposed A: the six values of a column are contiguous
                for (int q = 0; q < kc; q++, panel += MR, src += csA)
                {
                    panel[0] = src[0]; panel[1] = src[1]; panel[2] = src[2];
                    panel[3] = src[3]; panel[4] = src[4]; panel[5] = src[5];
                }
            }
            else
            {
                for (int i = 0; i < MR; i++)
                {
                    if (i >= h)
                    {
                        for (int q = 0; q < kc; q++) panel[q * MR + i] = T.Zero;
                        continue;
                    }
                    T* row = src + (long)i * rsA;
                    for (int q = 0; q < kc; q++) panel[q * MR + i] = row[(long)q * csA];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    // a(i, p) at pa[i ri + p rp]: a packed panel (ri 1, rp MR) or six rows of a row-major A in place (ri its row
    // stride, rp 1; vector paths only)
    // bias (nr values, or null) and relu: the epilogue, applied to the finished sums before they are stored
    private static unsafe void Micro<T>(KernelPath path, int kc, T* pa, nint ri, nint rp, T* pb, int ldb, T* pc, int ldc, bool overwrite,
        T* bias = null, bool relu = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (path)
        {
            case KernelPath.Vector512: Micro512(kc, pa, ri, rp, pb, ldb, pc, ldc, overwrite, bias, relu); break;
            case KernelPath.Vector256: Micro256(kc, pa, ri, rp, pb, ldb, pc, ldc, overwrite, bias, relu); break;
            default:
                MicroScalar(kc, pa, pb, ldb, pc, ldc, overwrite);
                if (bias != null || relu) Epilogue(pc, ldc, MR, 4, bias, relu);
                break;
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

    // a: (6, kc) at pa[i ri + p rp], pb: kc rows of 2w at stride ldb -> c[0..6, 0..2w] (+)= a pb, w = Vector512<T>.Count
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Micro512<T>(int kc, T* pa, nint ri, nint rp, T* pb, nint ldb, T* pc, int ldc, bool overwrite, T* bias, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector512<T>.Count;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        T* a0 = pa, a1 = a0 + ri, a2 = a1 + ri, a3 = a2 + ri, a4 = a3 + ri, a5 = a4 + ri;
        nint o = 0;
        for (int p = 0; p < kc; p++, o += rp, pb += ldb)
        {
            var b0 = Vector512.Load(pb);
            var b1 = Vector512.Load(pb + w);
            var a = Vector512.Create(a0[o]); c00 = Fma(a, b0, c00); c01 = Fma(a, b1, c01);
            a = Vector512.Create(a1[o]); c10 = Fma(a, b0, c10); c11 = Fma(a, b1, c11);
            a = Vector512.Create(a2[o]); c20 = Fma(a, b0, c20); c21 = Fma(a, b1, c21);
            a = Vector512.Create(a3[o]); c30 = Fma(a, b0, c30); c31 = Fma(a, b1, c31);
            a = Vector512.Create(a4[o]); c40 = Fma(a, b0, c40); c41 = Fma(a, b1, c41);
            a = Vector512.Create(a5[o]); c50 = Fma(a, b0, c50); c51 = Fma(a, b1, c51);
        }
        if (bias == null && !relu)
        {
            Store(pc, c00, c01, overwrite); Store(pc + ldc, c10, c11, overwrite); Store(pc + 2 * ldc, c20, c21, overwrite);
            Store(pc + 3 * ldc, c30, c31, overwrite); Store(pc + 4 * ldc, c40, c41, overwrite); Store(pc + 5 * ldc, c50, c51, overwrite);
        }
        else
        {
            // the epilogue in registers: (C +) sums, + bias, max(., 0), as Epilogue does it after a store
            Finish(pc, c00, c01, overwrite, bias, relu); Finish(pc + ldc, c10, c11, overwrite, bias, relu); Finish(pc + 2 * ldc, c20, c21, overwrite, bias, relu);
            Finish(pc + 3 * ldc, c30, c31, overwrite, bias, relu); Finish(pc + 4 * ldc, c40, c41, overwrite, bias, relu); Finish(pc + 5 * ldc, c50, c51, overwrite, bias, relu);
        }

        static void Store(T* c, Vector512<T> v0, Vector512<T> v1, bool overwrite)
        {
            T* c1 = c + Vector512<T>.Count;
            if (!overwrite) { v0 += Vector512.Load(c); v1 += Vector512.Load(c1); }
            Vector512.Store(v0, c);
            Vector512.Store(v1, c1);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Finish(T* c, Vector512<T> v0, Vector512<T> v1, bool overwrite, T* bias, bool relu)
        {
            T* c1 = c + Vector512<T>.Count;
            if (!overwrite) { v0 += Vector512.Load(c); v1 += Vector512.Load(c1); }
            if (bias != null) { v0 += Vector512.Load(bias); v1 += Vector512.Load(bias + Vector512<T>.Count); }
            if (relu) { v0 = Vector512.Max(v0, Vector512<T>.Zero); v1 = Vector512.Max(v1, Vector512<T>.Zero); }
            Vector512.Store(v0, c);
            Vector512.Store(v1, c1);
        }
    }

    // a: (6, kc) at pa[i ri + p rp], pb: kc rows of 2w at stride ldb -> c[0..6, 0..2w] (+)= a pb, w = Vector256<T>.Count
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Micro256<T>(int kc, T* pa, nint ri, nint rp, T* pb, nint ldb, T* pc, int ldc, bool overwrite, T* bias, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = Vector256<T>.Count;
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        T* a0 = pa, a1 = a0 + ri, a2 = a1 + ri, a3 = a2 + ri, a4 = a3 + ri, a5 = a4 + ri;
        nint o = 0;
        for (int p = 0; p < kc; p++, o += rp, pb += ldb)
        {
            var b0 = Vector256.Load(pb);
            var b1 = Vector256.Load(pb + w);
            var a = Vector256.Create(a0[o]); c00 = Fma(a, b0, c00); c01 = Fma(a, b1, c01);
            a = Vector256.Create(a1[o]); c10 = Fma(a, b0, c10); c11 = Fma(a, b1, c11);
            a = Vector256.Create(a2[o]); c20 = Fma(a, b0, c20); c21 = Fma(a, b1, c21);
            a = Vector256.Create(a3[o]); c30 = Fma(a, b0, c30); c31 = Fma(a, b1, c31);
            a = Vector256.Create(a4[o]); c40 = Fma(a, b0, c40); c41 = Fma(a, b1, c41);
            a = Vector256.Create(a5[o]); c50 = Fma(a, b0, c50); c51 = Fma(a, b1, c51);
        }
        if (bias == null && !relu)
        {
            Store(pc, c00, c01, overwrite); Store(pc + ldc, c10, c11, overwrite); Store(pc + 2 * ldc, c20, c21, overwrite);
            Store(pc + 3 * ldc, c30, c31, overwrite); Store(pc + 4 * ldc, c40, c41, overwrite); Store(pc + 5 * ldc, c50, c51, overwrite);
        }
        else
        {
            // the epilogue in registers: (C +) sums, + bias, max(., 0), as Epilogue does it after a store
            Finish(pc, c00, c01, overwrite, bias, relu); Finish(pc + ldc, c10, c11, overwrite, bias, relu); Finish(pc + 2 * ldc, c20, c21, overwrite, bias, relu);
            Finish(pc + 3 * ldc, c30, c31, overwrite, bias, relu); Finish(pc + 4 * ldc, c40, c41, overwrite, bias, relu); Finish(pc + 5 * ldc, c50, c51, overwrite, bias, relu);
        }

        static void Store(T* c, Vector256<T> v0, Vector256<T> v1, bool overwrite)
        {
            T* c1 = c + Vector256<T>.Count;
            if (!overwrite) { v0 += Vector256.Load(c); v1 += Vector256.Load(c1); }
            Vector256.Store(v0, c);
            Vector256.Store(v1, c1);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static void Finish(T* c, Vector256<T> v0, Vector256<T> v1, bool overwrite, T* bias, bool relu)
        {
            T* c1 = c + Vector256<T>.Count;
            if (!overwrite) { v0 += Vector256.Load(c); v1 += Vector256.Load(c1); }
            if (bias != null) { v0 += Vector256.Load(bias); v1 += Vector256.Load(bias + Vector256<T>.Count); }
            if (relu) { v0 = Vector256.Max(v0, Vector256<T>.Zero); v1 = Vector256.Max(v1, Vector256<T>.Zero); }
            Vector256.Store(v0, c);
            Vector256.Store(v1, c1);
        }
    }

    // a: (6, kc) at pa[i ri + p rp], pb: kc rows of (at least) w at stride ldb -> c[0..6, 0..w] = a pb, w = Vector256<T>.Count
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroHalf256<T>(int kc, T* pa, nint ri, nint rp, T* pb, nint ldb, T* pc, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector256<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        T* a0 = pa, a1 = a0 + ri, a2 = a1 + ri, a3 = a2 + ri, a4 = a3 + ri, a5 = a4 + ri;
        nint o = 0;
        for (int p = 0; p < kc; p++, o += rp, pb += ldb)
        {
            var b0 = Vector256.Load(pb);
            c0 = Fma(Vector256.Create(a0[o]), b0, c0);
            c1 = Fma(Vector256.Create(a1[o]), b0, c1);
            c2 = Fma(Vector256.Create(a2[o]), b0, c2);
            c3 = Fma(Vector256.Create(a3[o]), b0, c3);
            c4 = Fma(Vector256.Create(a4[o]), b0, c4);
            c5 = Fma(Vector256.Create(a5[o]), b0, c5);
        }
        c0.Store(pc); c1.Store(pc + ldc); c2.Store(pc + 2 * ldc); c3.Store(pc + 3 * ldc); c4.Store(pc + 4 * ldc); c5.Store(pc + 5 * ldc);
    }

    // pa: (kc, 6) packed, pb: kc rows of 4 at stride ldb -> c[0..6, 0..4] (+)= pa pb
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MicroScalar<T>(int kc, T* pa, T* pb, int ldb, T* pc, int ldc, bool overwrite) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int nr = 4;
        T* acc = stackalloc T[MR * nr];
        for (int i = 0; i < MR * nr; i++) acc[i] = T.Zero;
        for (int p = 0; p < kc; p++, pa += MR, pb += ldb)
        {
            for (int i = 0; i < MR; i++)
            {
                T av = pa[i];
                for (int j = 0; j < nr; j++) acc[i * nr + j] += av * pb[j];
            }
        }
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < nr; j++)
            {
                T* c = pc + (long)i * ldc + j;
                *c = overwrite ? acc[i * nr + j] : *c + acc[i * nr + j];
            }
    }
}
