using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>The fast GEMM against the reference triple loop. Inputs are small integers, so both are exact.</summary>
public sealed class GemmTests
{
    private static float[] Ints(int n, Generator g)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = g.NextInt(7) - 3;
        return a;
    }

    private static void Compare(int m, int n, int k, float[] a, float[] b, float[] c1, float[] c2, bool transA, bool transB, bool accumulate)
    {
        int rsA = transA ? 1 : k, csA = transA ? m : 1, rsB = transB ? 1 : n, csB = transB ? k : 1;
        GemmReference.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, c1, n, accumulate);
        Gemm.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, c2, n, accumulate);
        for (int i = 0; i < m * n; i++)
            if (c1[i] != c2[i])
                Assert.Fail($"Gemm {Gemm.Path} m={m} n={n} k={k} transA={transA} transB={transB}: element {i}: reference {c1[i]}, fast {c2[i]}");
    }

    [Fact]
    public void EqualsReferenceForEveryShapeUpTo67()
    {
        // every (m, n, k) with each dimension in 1..67, split across threads (the default kernel path)
        var g = new Generator(3);
        float[] a = Ints(67 * 67, g), b = Ints(67 * 67, g);
        Parallel.For(1, 68, m =>
        {
            var c1 = new float[67 * 67];
            var c2 = new float[67 * 67];
            for (int n = 1; n <= 67; n++)
                for (int k = 1; k <= 67; k++)
                    Compare(m, n, k, a, b, c1, c2, transA: false, transB: false, accumulate: false);
        });
    }

    [Theory]
    [InlineData("Vector512")]
    [InlineData("Vector256")]
    [InlineData("Scalar")]
    public void EachKernelPathEqualsReference(string pathName) => OnPath(pathName, () =>
    {
        var g = new Generator(5);
        float[] a = Ints(80 * 80, g), b = Ints(80 * 80, g);
        var c1 = new float[80 * 80];
        var c2 = new float[80 * 80];
        int[] sizes = [1, 2, 5, 6, 7, 8, 15, 16, 17, 31, 32, 33, 47, 64, 67];
        foreach (int m in sizes)
            foreach (int n in sizes)
                foreach (int k in sizes)
                    foreach (bool tA in new[] { false, true })
                        Compare(m, n, k, a, b, c1, c2, tA, !tA, accumulate: k % 2 == 0);
    });

    // runs body with the named microkernel forced on this thread
    private static void OnPath(string pathName, Action body)
    {
        var before = Gemm.ForcedPath;
        Gemm.ForcedPath = Enum.Parse<Gemm.KernelPath>(pathName);
        try
        {
            body();
        }
        finally
        {
            Gemm.ForcedPath = before;
        }
    }

    [Theory]
    [InlineData("Vector512")]
    [InlineData("Vector256")]
    [InlineData("Scalar")]
    public void OddSizesEveryTransposeAndAccumulateEqualReference(string pathName) => OnPath(pathName, () =>
    {
        // every combination of 1, 7, 13, 65 for m, n, k with A and B each plain or transposed (read in place), C
        // overwritten or accumulated into: the packed microkernels, their ragged edges, B read in place for few rows
        // of A, and the dot-product tiles (A plain, B transposed, k >= 8)
        var g = new Generator(29);
        float[] a = Ints(65 * 65, g), b = Ints(65 * 65, g);
        int[] sizes = [1, 7, 13, 65];
        foreach (int m in sizes)
            foreach (int n in sizes)
                foreach (int k in sizes)
                    foreach (bool tA in new[] { false, true })
                        foreach (bool tB in new[] { false, true })
                            foreach (bool acc in new[] { false, true })
                            {
                                var c1 = Ints(m * n, g);
                                Compare(m, n, k, a, b, c1, (float[])c1.Clone(), tA, tB, acc);
                            }
    });

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Size257CrossesEveryBlockEdgeOnTwoThreads(bool transA, bool transB)
    {
        // m = n = 257 = MC + 113 = 16 NR-panels + 1, k = 1025 = KC + 1 (two passes over K, 520 + 505): every
        // blocking edge, split over two threads
        var g = new Generator(31);
        const int s = 257, k = 1025;
        float[] a = Ints(s * k, g), b = Ints(k * s, g), c = Ints(s * s, g);
        using var _ = Parallelism.UseThreads(2);
        Compare(s, s, k, a, b, c, (float[])c.Clone(), transA, transB, accumulate: true);
    }

    [Theory]
    [InlineData("Vector512")]
    [InlineData("Vector256")]
    [InlineData("Scalar")]
    public void EpilogueAddsTheBiasThenTheReluToTheFinishedSums(string pathName) => OnPath(pathName, () =>
    {
        // C = max((C +) A B + bias[j], 0) on every path: full tiles (in registers), ragged tiles, the transposed
        // narrow C, the dot-product tiles, one row, k = 0, and k over KC (the epilogue only after the last pass);
        // small integers, so the reference (triple loop, then bias, then max) is exact
        var g = new Generator(41);
        float[] a = Ints(40 * 1100, g), b = Ints(1100 * 70, g);
        int[] ms = [1, 6, 13, 40], ns = [1, 5, 32, 70], ks = [0, 9, 64, 1100];
        foreach (int m in ms)
            foreach (int n in ns)
                foreach (int k in ks)
                    foreach (bool tA in new[] { false, true })
                        foreach (bool tB in new[] { false, true })
                            foreach (bool acc in new[] { false, true })
                                foreach (bool relu in new[] { false, true })
                                    foreach (bool withBias in new[] { false, true })
                                    {
                                        if (!relu && !withBias) continue;
                                        int rsA = tA ? 1 : k, csA = tA ? m : 1, rsB = tB ? 1 : n, csB = tB ? k : 1;
                                        var bias = withBias ? Ints(n, g) : [];
                                        var c1 = Ints(m * n, g);
                                        var c2 = (float[])c1.Clone();
                                        GemmReference.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, c1, n, acc);
                                        for (int i = 0; i < m; i++)
                                            for (int j = 0; j < n; j++)
                                            {
                                                float v = c1[i * n + j] + (withBias ? bias[j] : 0f);
                                                c1[i * n + j] = relu ? Math.Max(v, 0f) : v;
                                            }
                                        Gemm.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, c2, n, acc, bias, relu);
                                        for (int i = 0; i < m * n; i++)
                                            if (c1[i] != c2[i])
                                                Assert.Fail($"Gemm {Gemm.Path} epilogue m={m} n={n} k={k} transA={tA} transB={tB} accumulate={acc} relu={relu} bias={withBias}: element {i}: reference {c1[i]}, fast {c2[i]}");
                                    }
    });

    [Theory]
    [InlineData("Vector512")]
    [InlineData("Vector256")]
    public void PrepackedBGivesBitwiseThePackedPerCallProduct(string pathName) => OnPath(pathName, () =>
    {
        // B packed once (a Linear layer's W^T, and a row-major B) against packing per call: ragged columns, K over KC
        // (two passes), one and two threads, with and without the epilogue; shapes that do not pack B (one row, the
        // dot-product tiles, a narrow C) and panels of another path fall back to the per-call product
        var g = new Generator(47);
        foreach (var (m, n, k) in new[] { (100, 70, 300), (257, 33, 1100), (64, 256, 784), (1, 40, 50), (20, 40, 50), (90, 8, 40) })
            foreach (bool tB in new[] { true, false })
                foreach (int threads in new[] { 1, 2 })
                {
                    float[] a = Ints(m * k, g), b = Ints(k * n, g), bias = Ints(n, g);
                    int rsB = tB ? 1 : n, csB = tB ? k : 1;
                    var packed = Gemm.PackB<float>(k, n, b, rsB, csB);
                    using var _ = Parallelism.UseThreads(threads);
                    foreach (bool relu in new[] { false, true })
                    {
                        var c1 = new float[m * n];
                        var c2 = new float[m * n];
                        Gemm.Multiply<float>(m, n, k, a, k, 1, b, rsB, csB, c1, n, false, bias, relu);
                        Gemm.MultiplyPacked<float>(m, n, k, a, k, 1, b, rsB, csB, packed, c2, n, false, bias, relu);
                        Assert.True(c1.AsSpan().SequenceEqual(c2), $"{Gemm.Path} m={m} n={n} k={k} transB={tB} threads={threads} relu={relu}");
                    }
                }
        // panels packed for one path are not read on another
        var a2 = Ints(100 * 300, g);
        var b2 = Ints(300 * 70, g);
        var other = Gemm.ForcedPath == Gemm.KernelPath.Vector512 ? Gemm.KernelPath.Vector256 : Gemm.KernelPath.Vector512;
        Gemm.PackedB<float> foreign;
        var before = Gemm.ForcedPath;
        Gemm.ForcedPath = other;
        try { foreign = Gemm.PackB<float>(300, 70, b2, 1, 300); }
        finally { Gemm.ForcedPath = before; }
        var r1 = new float[100 * 70];
        var r2 = new float[100 * 70];
        Gemm.Multiply<float>(100, 70, 300, a2, 300, 1, b2, 1, 300, r1, 70, false);
        Gemm.MultiplyPacked<float>(100, 70, 300, a2, 300, 1, b2, 1, 300, foreign, r2, 70, false);
        Assert.Equal(r1, r2);
    });

    [Theory]
    [InlineData("Vector512")]
    [InlineData("Vector256")]
    public void DotTilesAtEveryDepthEqualReference(string pathName) => OnPath(pathName, () =>
    {
        // A's rows and B's columns contiguous with few rows: the dot-product tiles, 8 lanes below 256 deep and 16 from
        // there on the Vector512 path (whole tiles, ragged rows and columns, a masked tail or none)
        var g = new Generator(71);
        float[] a = Ints(13 * 800, g), b = Ints(800 * 9, g);
        foreach (int k in new[] { 100, 255, 256, 257, 271, 784 })
            foreach (int m in new[] { 2, 3, 13 })
                foreach (int n in new[] { 4, 6, 9 })
                    foreach (bool acc in new[] { false, true })
                    {
                        var c1 = Ints(m * n, g);
                        Compare(m, n, k, a, b, c1, (float[])c1.Clone(), transA: false, transB: true, acc);
                    }
    });

    [Fact]
    public void EpilogueBiasShorterThanTheColumnsIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply<float>(2, 3, 2, new float[4], 2, 1, new float[6], 3, 1, new float[6], 3, false, new float[2]));
        Assert.Contains("bias", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(512, 512, 512, false, false)]
    [InlineData(128, 256, 784, false, true)]   // a Linear layer's x W^T: B packed by 8 x 8 transposes, A read in place
    [InlineData(32, 150, 100, false, true)]    // dot-product tiles (a convolution's weight gradient, few filters)
    [InlineData(1, 256, 784, false, true)]     // a batch-1 Linear layer: the vector-matrix product split by columns
    [InlineData(256, 784, 128, true, false)]
    [InlineData(300, 40, 200, true, true)]     // split over M
    public void ResultDoesNotDependOnTheThreadCount(int m, int n, int k, bool transA, bool transB)
    {
        var g = new Generator(37);
        var a = Enumerable.Range(0, m * k).Select(_ => (float)g.NextNormal()).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => (float)g.NextNormal()).ToArray();
        int rsA = transA ? 1 : k, csA = transA ? m : 1, rsB = transB ? 1 : n, csB = transB ? k : 1;
        var c1 = new float[m * n];
        var c2 = new float[m * n];
        using (Parallelism.UseThreads(1)) Gemm.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, c1, n, accumulate: false);
        using (Parallelism.UseThreads(2)) Gemm.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, c2, n, accumulate: false);
        Assert.Equal(c1, c2);
        var r = new float[m * n];
        GemmReference.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, r, n, accumulate: false);
        ParityTests.AssertClose("gemm", r, c1, 1e-4, 1e-4);
    }

    [Theory]
    [InlineData(96, 80, 300, false, false)]
    [InlineData(96, 80, 300, false, true)]
    public void WarmSingleThreadCallAllocatesNothing(int m, int n, int k, bool transA, bool transB)
    {
        var g = new Generator(41);
        float[] a = Ints(m * k, g), b = Ints(k * n, g), c = new float[m * n];
        int rsA = transA ? 1 : k, csA = transA ? m : 1, rsB = transB ? 1 : n, csB = transB ? k : 1;
        using var _ = Parallelism.UseThreads(1);
        Gemm.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, c, n, accumulate: false);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Gemm.Multiply<float>(m, n, k, a, rsA, csA, b, rsB, csB, c, n, accumulate: false);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void OperandTooShortForItsStridesIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Gemm.Multiply<float>(4, 4, 4, new float[15], 4, 1, new float[16], 4, 1, new float[16], 4, false));
        Assert.Contains("Gemm: operands too short", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Float64EveryTranspose(bool transA, bool transB)
    {
        var g = new Generator(43);
        const int m = 37, n = 45, k = 29;
        var a = Enumerable.Range(0, m * k).Select(_ => g.NextNormal()).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => g.NextNormal()).ToArray();
        var c1 = Enumerable.Range(0, m * n).Select(_ => g.NextNormal()).ToArray();
        var c2 = (double[])c1.Clone();
        int rsA = transA ? 1 : k, csA = transA ? m : 1, rsB = transB ? 1 : n, csB = transB ? k : 1;
        GemmReference.Multiply<double>(m, n, k, a, rsA, csA, b, rsB, csB, c1, n, accumulate: true);
        Gemm.Multiply<double>(m, n, k, a, rsA, csA, b, rsB, csB, c2, n, accumulate: true);
        for (int i = 0; i < c1.Length; i++) Assert.True(Math.Abs(c1[i] - c2[i]) <= 1e-12 * (1 + Math.Abs(c1[i])), $"element {i}: {c1[i]} vs {c2[i]}");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void LargeAndTransposedOperands(bool transA, bool transB)
    {
        // crosses the KC = 256 and MC = 96 block edges
        var g = new Generator(11);
        const int m = 203, n = 170, k = 300;
        float[] a = Ints(m * k, g), b = Ints(k * n, g);
        Compare(m, n, k, a, b, new float[m * n], new float[m * n], transA, transB, accumulate: false);
    }

    [Theory]
    [InlineData(1, 1)]       // b rows contiguous
    [InlineData(40, 1)]
    [InlineData(1, 40)]      // b columns contiguous (a transposed weight)
    [InlineData(3, 100)]     // neither: element by element
    public void OneRowTimesAMatrixEqualsReferenceForEveryLayout(int rowGap, int colGap)
    {
        // m = 1 takes the vector-matrix path; b[p, j] at p * rsB + j * csB; on each path (contiguous columns: dot
        // products of 16 or 8 lanes, four columns at a time, an overlapping masked last load where k is not a multiple)
        var g = new Generator(23);
        var before = Gemm.ForcedPath;
        try
        {
            foreach (var path in new[] { Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256, Gemm.KernelPath.Scalar })
            foreach (int n in new[] { 1, 10, 33 })
            foreach (int k in new[] { 1, 7, 8, 19, 300 })
            {
                Gemm.ForcedPath = path;
                int rsB = colGap == 1 && rowGap == 1 ? n : rowGap, csB = colGap == 1 ? 1 : colGap;
                if (rowGap == 1 && colGap != 1) csB = k; // columns contiguous
                var a = Ints(k, g);
                var b = Ints((k - 1) * rsB + (n - 1) * csB + 1, g);
                var c1 = Ints(n, g);
                var c2 = (float[])c1.Clone();
                bool acc = k % 2 == 1;
                GemmReference.Multiply<float>(1, n, k, a, k, 1, b, rsB, csB, c1, n, acc);
                Gemm.Multiply<float>(1, n, k, a, k, 1, b, rsB, csB, c2, n, acc);
                Assert.Equal(c1, c2);
            }
        }
        finally
        {
            Gemm.ForcedPath = before;
        }
    }

    [Fact]
    public void AnInfiniteValueInTheLastPartialRegisterStaysInfinite()
    {
        // the dot kernels read a k % w tail by an overlapping load with the lanes already summed masked off: in both
        // operands, or 0 x inf there gives NaN (found by a newcomer's fuzzing: Linear 9 -> 6 with an infinite weight)
        const int n = 6, k = 9;
        var before = Gemm.ForcedPath;
        try
        {
            foreach (var path in new[] { Gemm.KernelPath.Vector512, Gemm.KernelPath.Vector256, Gemm.KernelPath.Scalar })
            foreach (int m in new[] { 1, 3, 64 })
            foreach (bool inA in new[] { false, true })
            {
                Gemm.ForcedPath = path;
                var a = Enumerable.Repeat(1f, m * k).ToArray();
                var b = Enumerable.Repeat(0.5f, n * k).ToArray(); // (k, n) read as columns of k contiguous values: x W^T
                if (inA) a[k * (m - 1) + 1] = float.PositiveInfinity;
                else b[2 * k + 1] = float.PositiveInfinity;
                var c = new float[m * n];
                Gemm.Multiply<float>(m, n, k, a, k, 1, b, 1, k, c, n, accumulate: false);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        bool inf = inA ? i == m - 1 : j == 2;
                        Assert.True(inf ? float.IsPositiveInfinity(c[i * n + j]) : c[i * n + j] == 4.5f, $"{path} m {m} inf in {(inA ? "a" : "b")}: c[{i},{j}] = {c[i * n + j]}");
                    }
            }
        }
        finally
        {
            Gemm.ForcedPath = before;
        }
    }

    [Fact]
    public void Float64AndAccumulate()
    {
        var g = new Generator(13);
        const int m = 37, n = 45, k = 29;
        var a = Enumerable.Range(0, m * k).Select(_ => g.NextNormal()).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => g.NextNormal()).ToArray();
        var c1 = Enumerable.Range(0, m * n).Select(_ => g.NextNormal()).ToArray();
        var c2 = (double[])c1.Clone();
        GemmReference.Multiply<double>(m, n, k, a, k, 1, b, n, 1, c1, n, accumulate: true);
        Gemm.Multiply<double>(m, n, k, a, k, 1, b, n, 1, c2, n, accumulate: true);
        for (int i = 0; i < c1.Length; i++) Assert.True(Math.Abs(c1[i] - c2[i]) <= 1e-12 * (1 + Math.Abs(c1[i])), $"element {i}: {c1[i]} vs {c2[i]}");
    }

    [Fact]
    public void MatMulOfNonContiguousViewsEqualsCopies()
    {
        var g = new Generator(17);
        var a = Tensor.Randn([3, 40, 30], g);
        var b = Tensor.Randn([50, 40], g);
        var at = a.Transpose(1, 2);             // (3, 30, 40), strided
        var bt = b.Transpose().Slice(1, 0, 40, 1); // (40, 50), strided
        var y1 = at.MatMul(bt);
        var y2 = at.Contiguous().MatMul(bt.Contiguous());
        ParityTests.AssertClose("strided matmul", y2.ToArray(), y1.ToArray(), 1e-5, 1e-5);
    }
}
