using System.Collections.Concurrent;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>Thread counts: the process-wide setting, scoped overrides, and what a kernel's chunks see.</summary>
public sealed class ParallelismTests
{
    [Fact]
    public void UseThreadsOverridesTheCountInsideItsScopeAndRestoresItAfter()
    {
        int global = Parallelism.MaxThreads;
        Assert.Equal(global, Parallelism.Threads);
        using (Parallelism.UseThreads(3))
        {
            Assert.Equal(3, Parallelism.Threads);
            using (Parallelism.UseThreads(1)) Assert.Equal(1, Parallelism.Threads);
            Assert.Equal(3, Parallelism.Threads);
            Assert.Equal(global, Parallelism.MaxThreads); // the process-wide value is not touched
        }
        Assert.Equal(global, Parallelism.Threads);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(5, 2)]
    [InlineData(256, 2)]
    [InlineData(1000, 3)]
    [InlineData(7, 1)]
    public void ForBalancedRunsEveryItemOnceInAtMostEightChunksAThread(int n, int threads)
    {
        using var _ = Parallelism.UseThreads(threads);
        var hits = new int[n];
        var chunks = new ConcurrentBag<(int Start, int End)>();
        var runners = new ConcurrentDictionary<int, bool>();
        int used = Parallelism.ForBalanced(n, (_, start, end) =>
        {
            chunks.Add((start, end));
            runners[Environment.CurrentManagedThreadId] = true;
            for (int i = start; i < end; i++) Interlocked.Increment(ref hits[i]);
            Thread.SpinWait(2000); // long enough for every worker to try to join
        });
        Assert.All(hits, h => Assert.Equal(1, h));
        Assert.Equal(threads == 1 ? 1 : Math.Min(n, 8 * threads), used);
        Assert.True(runners.Count <= threads, $"{runners.Count} threads ran the chunks of a {threads}-thread job");
        Assert.Equal(used, chunks.Count);
        Assert.All(chunks, c => Assert.True(c.End > c.Start, $"empty chunk [{c.Start}, {c.End})"));
        // below the work threshold: one chunk on the calling thread
        Assert.Equal(1, Parallelism.ForBalanced(n, (_, _, _) => { }, work: 100));
    }

    [Fact]
    public void UseThreadsDoesNotReachAnotherThread()
    {
        using var entered = new ManualResetEventSlim();
        using var checkedOther = new ManualResetEventSlim();
        int seen = 0;
        var other = new Thread(() =>
        {
            entered.Wait();
            seen = Parallelism.Threads;
            checkedOther.Set();
        });
        other.Start(); // started before the scope, so no execution context flows into it
        using (Parallelism.UseThreads(Parallelism.MaxThreads + 5))
        {
            entered.Set();
            Assert.True(checkedOther.Wait(TimeSpan.FromSeconds(30)));
        }
        other.Join();
        Assert.Equal(Parallelism.MaxThreads, seen);
    }

    [Fact]
    public void ChunksAndTheKernelsNestedInThemUseTheCallersCount()
    {
        var inChunk = new ConcurrentBag<(int Threads, int NestedChunks)>();
        using (Parallelism.UseThreads(3))
        {
            // chunks may run on the pool's workers, which never entered the scope
            int chunks = Parallelism.For(9, (_, _, _) => inChunk.Add((Parallelism.Threads, Parallelism.For(10, (_, _, _) => { }))));
            Assert.Equal(3, chunks);
        }
        Assert.Equal(3, inChunk.Count);
        Assert.All(inChunk, c => Assert.Equal((3, 3), c));
    }

    [Fact]
    public void ForRejectsAChunkCountItCannotSplitInto()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.For(2, 3, (_, _, _) => { }));
        Assert.Contains("expected 1 to 2 chunks for 2 items, got 3", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.UseThreads(0));
    }

    // the weight gradient sums per-chunk partials, so its bits depend on the thread count: a thread that asks for
    // one count keeps getting the same bits while another thread runs the same op with a different count
    [Fact]
    public void AThreadsCountOnOneThreadDoesNotChangeAnothersResults()
    {
        static float[] WeightGrad()
        {
            var g = new Generator(4);
            var x = Tensor.Randn([4, 3, 6, 7], g); // 2 chunks of 2 images, or 1 of 4: sums in another order
            var w = Tensor.Randn([8, 3, 3, 3], g).RequiresGrad_();
            Tensor.Conv2dRelu(x, w, null, 1, 1).Sum().Backward();
            return w.Grad!.ToArray();
        }

        float[] two, one;
        using (Parallelism.UseThreads(2)) two = WeightGrad();
        using (Parallelism.UseThreads(1)) one = WeightGrad();
        Assert.NotEqual(two, one); // otherwise this test could not see a leak

        using var stop = new CancellationTokenSource();
        int otherRuns = 0;
        Exception? otherError = null;
        var other = new Thread(() =>
        {
            try
            {
                using (Parallelism.UseThreads(1))
                    while (!stop.IsCancellationRequested)
                    {
                        Assert.Equal(one, WeightGrad());
                        Interlocked.Increment(ref otherRuns);
                    }
            }
            catch (Exception e)
            {
                otherError = e;
            }
        });
        other.Start();
        try
        {
            // both threads run the op many times at once (the other thread at least 50 times during this loop)
            using (Parallelism.UseThreads(2))
            {
                int start = Volatile.Read(ref otherRuns);
                for (int i = 0; (i < 300 || Volatile.Read(ref otherRuns) < start + 50) && i < 100_000 && Volatile.Read(ref otherError) is null; i++)
                    Assert.Equal(two, WeightGrad());
                Assert.True(Volatile.Read(ref otherRuns) >= start + 50 || otherError is not null, "the other thread did not run");
            }
        }
        finally
        {
            stop.Cancel();
            other.Join();
        }
        Assert.Null(otherError);
    }

    [Theory]
    [InlineData(0, 1, 2)]
    [InlineData(1, 1, 2)]
    [InlineData(10, 10, 2)]
    [InlineData(97, 24, 2)]
    [InlineData(100, 7, 1)]
    public void ForEachPartRunsEveryItemOnceInContiguousPartsWithOneThreadInside(int n, int parts, int threads)
    {
        using var _ = Parallelism.UseThreads(threads);
        var hits = new int[n];
        var ranges = new ConcurrentBag<(int Start, int End)>();
        var inner = new ConcurrentBag<int>();
        Parallelism.ForEachPart(n, parts, (start, end) =>
        {
            ranges.Add((start, end));
            inner.Add(Parallelism.Threads);
            for (int i = start; i < end; i++) Interlocked.Increment(ref hits[i]);
        });
        Assert.All(hits, h => Assert.Equal(1, h));
        Assert.Equal(parts, ranges.Count);
        var sorted = ranges.OrderBy(r => r.Start).ToList();
        for (int i = 1; i < sorted.Count; i++) Assert.Equal(sorted[i - 1].End, sorted[i].Start);
        Assert.All(inner, t => Assert.Equal(1, t)); // kernels started inside a part run on its thread alone
        Assert.Equal(threads, Parallelism.Threads);
    }

    [Fact]
    public void ForEachPartRethrowsAPartsErrorAndRefusesBadCounts()
    {
        using var _ = Parallelism.UseThreads(2);
        var e = Assert.Throws<InvalidOperationException>(() => Parallelism.ForEachPart(8, 4, (start, end) =>
        {
            if (start >= 4) throw new InvalidOperationException($"part {start}");
        }));
        Assert.StartsWith("part ", e.Message, StringComparison.Ordinal);
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.ForEachPart(3, 4, (_, _) => { }));
        Assert.Contains("Parallelism.ForEachPart: expected 1 to 3 parts for 3 items, got 4.", bad.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.ForEachPart(-1, 1, (_, _) => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.ForEachPart(5, 0, (_, _) => { }));
    }

    // while another thread holds the worker pool, the parts run on the .NET thread pool: a part's error still comes
    // back as itself, not wrapped in an AggregateException
    [Fact]
    public async Task ForEachPartRethrowsAPartsErrorAsItselfWhenThePoolIsBusy()
    {
        using var _ = Parallelism.UseThreads(2);
        using var started = new CountdownEvent(1);
        using var release = new ManualResetEventSlim();
        var holder = Task.Run(() => Parallelism.ForEachPart(2, 2, (start, end) =>
        {
            if (start == 0) started.Signal();
            release.Wait(TimeSpan.FromSeconds(30));
        }));
        try
        {
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
            var e = Assert.Throws<InvalidOperationException>(() => Parallelism.ForEachPart(4, 4, (start, end) =>
            {
                if (start == 2) throw new InvalidOperationException("part 2");
            }));
            Assert.Equal("part 2", e.Message);
        }
        finally
        {
            release.Set();
            await holder;
        }
    }
}
