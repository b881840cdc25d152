namespace Sharpgrad;

/// <summary>
/// How many threads the kernels use. Work is split into a fixed number of contiguous chunks, so results are the
/// same bit for bit from run to run for a given thread count. <see cref="MaxThreads"/> sets the count for the whole
/// process (as torch.set_num_threads); <see cref="UseThreads"/> overrides it for the code that runs inside its scope,
/// so that two threads can run kernels with different counts without changing each other's results.
/// </summary>
public static class Parallelism
{
    private static int s_maxThreads = Environment.ProcessorCount;

    // the innermost UseThreads scope on this logical thread (flows into async code and tasks it starts); 0: none
    private static readonly AsyncLocal<int> s_scoped = new();

    /// <summary>The number of threads kernels may use, process-wide (default: the processor count).</summary>
    public static int MaxThreads
    {
        get => s_maxThreads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), $"Parallelism.MaxThreads: expected at least 1, got {value}.");
            s_maxThreads = value;
        }
    }

    /// <summary>
    /// The number of threads a kernel started here uses: the innermost <see cref="UseThreads"/> scope's count, else
    /// <see cref="MaxThreads"/>; inside a kernel's chunk, the count of the kernel that runs it.
    /// </summary>
    public static int Threads
    {
        get
        {
            if (t_depth > 0) return t_chunkThreads;
            int scoped = s_scoped.Value;
            return scoped > 0 ? scoped : s_maxThreads;
        }
    }

    /// <summary>
    /// Runs the kernels started inside the returned scope (on this thread, and in async code and tasks that flow from
    /// it) with <paramref name="threads"/> threads, whatever <see cref="MaxThreads"/> says; other threads are not
    /// affected. Dispose the scope to restore the previous count: <c>using (Parallelism.UseThreads(1)) { ... }</c>.
    /// </summary>
    public static IDisposable UseThreads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), $"Parallelism.UseThreads: expected at least 1 thread, got {threads}.");
        var scope = new ThreadsScope(s_scoped.Value);
        s_scoped.Value = threads;
        return scope;
    }

    private sealed class ThreadsScope(int previous) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            s_scoped.Value = previous;
        }
    }

    /// <summary>Below this many elements of work, starting a second thread costs more than it saves (a batch-1 layer).</summary>
    internal const long MinParallelWork = 32768;

    /// <summary>
    /// Splits [0, n) into at most <see cref="Threads"/> contiguous chunks and runs <paramref name="body"/>(chunk, start, end) on
    /// each; with less than <see cref="MinParallelWork"/> elements of <paramref name="work"/> it runs one chunk on the
    /// calling thread. Only for bodies whose results do not depend on the chunking.
    /// </summary>
    internal static int For(int n, Action<int, int, int> body, long work) => work < MinParallelWork ? Serial(n, body) : For(n, body);

    // > 0 while this thread runs a chunk: a kernel inside a kernel (a GEMM inside a per-image convolution) runs its
    // chunks in order on this thread, since the outer kernel already keeps every core busy, and splits its work by
    // the outer kernel's thread count (t_chunkThreads), whichever thread runs the chunk
    [ThreadStatic] private static int t_depth;
    [ThreadStatic] private static int t_chunkThreads;

    /// <summary>Whether this thread is running a kernel's chunk, where <see cref="For(int, Action{int, int, int})"/> runs chunks in order on it.</summary>
    internal static bool InChunk => t_depth > 0;

    /// <summary>
    /// Splits [0, n) into at most <see cref="Threads"/> contiguous chunks and runs <paramref name="body"/>(chunk, start, end) on
    /// each (in order on the calling thread when called from inside another kernel's chunk).
    /// </summary>
    internal static int For(int n, Action<int, int, int> body) => For(n, Chunks(n), body);

    /// <summary>
    /// Splits [0, n) into exactly <paramref name="chunks"/> contiguous chunks (from <see cref="Chunks"/>, read once by
    /// a kernel that sizes per-chunk partial sums by it) and runs <paramref name="body"/>(chunk, start, end) on each.
    /// </summary>
    internal static int For(int n, int chunks, Action<int, int, int> body)
    {
        if (chunks < 1 || chunks > Math.Max(1, n)) throw new ArgumentOutOfRangeException(nameof(chunks), $"Parallelism.For: expected 1 to {Math.Max(1, n)} chunks for {n} items, got {chunks}.");
        int threads = Threads;
        if (chunks == 1 || t_depth > 0)
        {
            for (int c = 0; c < chunks; c++) RunChunk(body, n, c, chunks, threads);
            return chunks;
        }
        if (!WorkerPool.TryRun(n, chunks, threads, body))
        {
            // the pool is busy with another thread's kernel: the .NET thread pool (its AggregateException unwrapped, so
            // a chunk's error reaches the caller as the same exception either way)
            try
            {
                Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, c => RunChunk(body, n, c, chunks, threads));
            }
            catch (AggregateException e) when (e.InnerExceptions.Count > 0)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
            }
        }
        return chunks;
    }

    private static void RunChunk(Action<int, int, int> body, int n, int c, int chunks, int threads)
    {
        int outerThreads = t_chunkThreads;
        t_depth++;
        t_chunkThreads = threads;
        try
        {
            body(c, (int)((long)n * c / chunks), (int)((long)n * (c + 1) / chunks));
        }
        finally
        {
            t_depth--;
            t_chunkThreads = outerThreads;
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) on <paramref name="parts"/> contiguous ranges that split [0, n), on up
    /// to <see cref="Threads"/> threads at once, each range taken by whichever thread is free; the kernels that a
    /// range starts run on the thread that runs it, as with one thread (e.g. a model's forward on part of a batch,
    /// as <c>Module.Predict</c> runs a large batch). Inside a kernel's chunk, or with one thread, the ranges run in
    /// order on the calling thread. Per-thread state (<see cref="TensorScope"/>, gradient mode) is the running
    /// thread's own: open what the body needs inside it. An exception a range throws is rethrown here, as itself, once
    /// every range has ended (the first one where several throw). n = 0 runs one empty range.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">n below 0, or parts not in 1..max(1, n).</exception>
    public static void ForEachPart(int n, int parts, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (n < 0) throw new ArgumentOutOfRangeException(nameof(n), $"Parallelism.ForEachPart: expected at least 0 items, got {n}.");
        if (parts < 1 || parts > Math.Max(1, n)) throw new ArgumentOutOfRangeException(nameof(parts), $"Parallelism.ForEachPart: expected 1 to {Math.Max(1, n)} parts for {n} items, got {parts}.");
        For(n, parts, (_, start, end) =>
        {
            // the kernels inside see one thread: they run in order on this one and split their work as one thread does
            int outer = t_chunkThreads;
            t_chunkThreads = 1;
            try
            {
                body(start, end);
            }
            finally
            {
                t_chunkThreads = outer;
            }
        });
    }

    /// <summary>Chunks a thread for <see cref="ForBalanced(int, Action{int, int, int})"/>.</summary>
    internal const int BalancedChunksPerThread = 8;

    /// <summary>
    /// As <see cref="For(int, Action{int, int, int})"/>, in up to <see cref="BalancedChunksPerThread"/> chunks a
    /// thread, each taken by whichever thread is free: for bodies whose items cost about the same, that keep no
    /// per-chunk partial results, and whose per-chunk set-up is small. The cores of a shared machine are not equally
    /// fast from one moment to the next (on the 2-core AVX-512 VM two threads' FMA loop ran 160-317 GFLOP/s together);
    /// with one chunk a thread the faster one waited for the slower. Measured on the exam CNN's fused convolutions at
    /// batch 256 and 64 (one chunk against eight a thread, alternating in one process, 18 pairs of 40 ms windows):
    /// median speed-ups 0.99-1.20x, lower least times in all eight cases.
    /// </summary>
    internal static int ForBalanced(int n, Action<int, int, int> body)
    {
        int threads = Threads;
        return For(n, threads < 2 ? 1 : Math.Max(1, Math.Min(n, threads * BalancedChunksPerThread)), body);
    }

    /// <summary><see cref="ForBalanced(int, Action{int, int, int})"/>, on the calling thread in one chunk below <see cref="MinParallelWork"/> elements of <paramref name="work"/>.</summary>
    internal static int ForBalanced(int n, Action<int, int, int> body, long work) => work < MinParallelWork ? Serial(n, body) : ForBalanced(n, body);

    /// <summary>
    /// Below this many multiply-adds a convolution at batch 1 runs on the calling thread. On the 2-core AVX-512 VM of
    /// issue #11 a second thread slowed every batch-1 convolution measured under it: resnet8's 1.8M-MAC 3x3 layers
    /// (split by row pairs or filter blocks) took the model from 126-137 to 144-160 us, mobilenet's 0.1-0.5M-MAC
    /// depthwise layers from 77-95 to 98-139 us (medians of 15 windows, alternating processes); cnn3's 3.6M-MAC layer
    /// gains (60 against 62-64 us). A thread running on the other core (even a spin-wait) slowed the first by 1.4x
    /// there, so the second thread's chunks cost the first more than they saved.
    /// </summary>
    internal const long MinParallelMacs = 2_500_000;

    /// <summary><see cref="ForBalanced(int, Action{int, int, int})"/>, on the calling thread in one chunk below <see cref="MinParallelMacs"/> multiply-adds.</summary>
    internal static int ForBalancedMacs(int n, Action<int, int, int> body, long macs) => macs < MinParallelMacs ? Serial(n, body) : ForBalanced(n, body);

    // [0, n) as one chunk on the calling thread
    private static int Serial(int n, Action<int, int, int> body)
    {
        RunChunk(body, n, 0, 1, Threads);
        return 1;
    }

    /// <summary>The chunk count <see cref="For(int, Action{int, int, int})"/> uses for <paramref name="n"/> items here.</summary>
    internal static int Chunks(int n) => Math.Max(1, Math.Min(Threads, n));

    /// <summary>
    /// Dedicated workers (one fewer than the processors) that spin briefly between kernels before they sleep, so a
    /// kernel's chunks start in well under a microsecond where the thread pool takes several (what batch-1 latency
    /// and the ~30 kernels of a training step pay). The caller runs chunks too; a chunk's result does not depend on
    /// which thread runs it.
    /// </summary>
    private static class WorkerPool
    {
        private const long SpinTicks = 200 * TimeSpan.TicksPerMillisecond / 1000; // 200 us
        private static readonly int s_workers = Math.Max(0, Environment.ProcessorCount - 1);
        private static readonly SemaphoreSlim s_wake = new(0);
        private static Job? s_job;
        private static int s_generation;
        private static int s_sleepers;
        private static int s_busy;
        private static int s_started;

        private sealed class Job(int n, int chunks, int threads, Action<int, int, int> body)
        {
            public readonly int N = n, Chunks = chunks, Threads = threads;
            public readonly Action<int, int, int> Body = body;
            public int Next;
            public int Remaining = chunks;
            public int Joined;
            public System.Runtime.ExceptionServices.ExceptionDispatchInfo? Error;

            // takes chunks until none is left; at most Threads threads join (there may be more chunks than threads,
            // and more workers than the job's thread count)
            public void Work()
            {
                if (Interlocked.Increment(ref Joined) > Threads) return;
                while (true)
                {
                    int c = Interlocked.Increment(ref Next) - 1;
                    if (c >= Chunks) return;
                    try
                    {
                        RunChunk(Body, N, c, Chunks, Threads);
                    }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref Error, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e), null);
                    }
                    Interlocked.Decrement(ref Remaining);
                }
            }
        }

        public static bool TryRun(int n, int chunks, int threads, Action<int, int, int> body)
        {
            if (s_workers == 0 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0) return false;
            try
            {
                if (Interlocked.CompareExchange(ref s_started, 1, 0) == 0)
                {
                    for (int i = 0; i < s_workers; i++)
                        new Thread(Loop) { IsBackground = true, Name = $"Sharpgrad worker {i + 1}" }.UnsafeStart(); // no execution context (UseThreads scopes) flows in
                }
                var job = new Job(n, chunks, threads, body);
                Volatile.Write(ref s_job, job);
                Interlocked.Increment(ref s_generation);
                int sleeping = Interlocked.Exchange(ref s_sleepers, 0);
                if (sleeping > 0) s_wake.Release(sleeping);
                job.Work();
                var spin = new SpinWait();
                while (Volatile.Read(ref job.Remaining) > 0) spin.SpinOnce(-1);
                job.Error?.Throw();
                return true;
            }
            finally
            {
                Volatile.Write(ref s_busy, 0);
            }
        }

        private static void Loop()
        {
            int seen = Volatile.Read(ref s_generation);
            while (true)
            {
                long until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks * System.Diagnostics.Stopwatch.Frequency / TimeSpan.TicksPerSecond;
                int g;
                while ((g = Volatile.Read(ref s_generation)) == seen)
                {
                    if (System.Diagnostics.Stopwatch.GetTimestamp() < until)
                    {
                        Thread.SpinWait(20);
                        continue;
                    }
                    // idle: sleep until a job is posted (a permit left over from a race only costs one extra check)
                    Interlocked.Increment(ref s_sleepers);
                    if (Volatile.Read(ref s_generation) == seen) s_wake.Wait();
                    until = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks * System.Diagnostics.Stopwatch.Frequency / TimeSpan.TicksPerSecond;
                }
                seen = g;
                Volatile.Read(ref s_job)?.Work();
            }
        }
    }
}
