namespace Sharpgrad;

/// <summary>
/// How many threads the kernels use. Work is split into a fixed number of contiguous chunks, so results are the
/// same bit for bit from run to run for a given thread count.
/// </summary>
public static class Parallelism
{
    private static int s_maxThreads = Environment.ProcessorCount;

    /// <summary>The number of threads kernels may use (default: the processor count).</summary>
    public static int MaxThreads
    {
        get => s_maxThreads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), $"Parallelism.MaxThreads: expected at least 1, got {value}.");
            s_maxThreads = value;
        }
    }

    /// <summary>Below this many elements of work, starting a second thread costs more than it saves (a batch-1 layer).</summary>
    internal const long MinParallelWork = 32768;

    /// <summary>
    /// Splits [0, n) into at most MaxThreads contiguous chunks and runs <paramref name="body"/>(chunk, start, end) on
    /// each; with less than <see cref="MinParallelWork"/> elements of <paramref name="work"/> it runs one chunk on the
    /// calling thread. Only for bodies whose results do not depend on the chunking.
    /// </summary>
    internal static int For(int n, Action<int, int, int> body, long work)
    {
        if (work < MinParallelWork)
        {
            body(0, 0, n);
            return 1;
        }
        return For(n, body);
    }

    /// <summary>Splits [0, n) into at most MaxThreads contiguous chunks and runs <paramref name="body"/>(chunk, start, end) on each.</summary>
    internal static int For(int n, Action<int, int, int> body)
    {
        int chunks = Math.Max(1, Math.Min(MaxThreads, n));
        if (chunks == 1)
        {
            body(0, 0, n);
            return 1;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, c =>
        {
            int start = (int)((long)n * c / chunks), end = (int)((long)n * (c + 1) / chunks);
            body(c, start, end);
        });
        return chunks;
    }

    /// <summary>The chunk count <see cref="For(int, Action{int, int, int})"/> uses for <paramref name="n"/> items.</summary>
    internal static int Chunks(int n) => Math.Max(1, Math.Min(MaxThreads, n));
}
