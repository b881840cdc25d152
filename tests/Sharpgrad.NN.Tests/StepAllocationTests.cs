using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>
/// A warm training step and a warm <see cref="Module.Predict"/> of every built-in model allocate next to nothing: the
/// activations and gradients come from the pooled memory of <see cref="TensorScope"/> (applied by the training loop
/// and by Predict), so what a step allocates is bookkeeping (graph nodes, shapes, per-channel statistics) that does not
/// grow with the batch. Counted on one thread (kernels inline with <see cref="Parallelism.UseThreads"/>(1)), so other
/// tests cannot disturb the count.
/// </summary>
public sealed class StepAllocationTests
{
    // growth from batch 8 to batch 32: the logits and per-sample values below the pool's threshold (a few KB); one
    // activation or gradient that escapes the pool adds 24 x its per-image size (>= 75 KB for these models)
    private const long GrowthBudget = 32_000;

    // bookkeeping of a whole step, a guard against regressions (measured 2026-11-30: at most ~360 KB, resnet20)
    private const long Budget = 640_000;

    public static TheoryData<string> Names() => [.. Models.Names];

    private static long TrainingStepBytes(string name, int batch)
    {
        using var _ = Parallelism.UseThreads(1);
        var model = Models.Create(name, 1, 28, 28, 10, generator: new Generator(1)).Fuse();
        var x = Tensor.Randn([batch, 1, 28, 28], new Generator(2));
        int[] labels = [.. Enumerable.Range(0, batch).Select(i => i % 10)];
        var optimizer = new AdamW(model.Parameters(), 1e-3, weightDecay: 0.01);
        void Step()
        {
            using var scope = TensorScope.Begin();
            var loss = Losses.CrossEntropy(model.Call(x), labels);
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
            model.ZeroGrad();
        }
        for (int i = 0; i < 3; i++) Step();
        return SteadyBytes(Step);
    }

    // bytes per call of action, the least of three windows of four calls: a garbage collection caused by other tests
    // in the process trims the shared array pool, and the next few calls re-rent (allocate) their scratch once; that
    // is not what a warm step allocates (one window counted 63 KB more at batch 32 once in a full run, the next not)
    private static long SteadyBytes(Action action)
    {
        long best = long.MaxValue;
        for (int window = 0; window < 3; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 4; i++) action();
            best = Math.Min(best, (GC.GetAllocatedBytesForCurrentThread() - before) / 4);
        }
        return best;
    }

    private static long PredictBytes(string name, int batch)
    {
        using var _ = Parallelism.UseThreads(1);
        var model = Models.Create(name, 1, 28, 28, 10, generator: new Generator(1)).Fuse();
        var x = Tensor.Randn([batch, 1, 28, 28], new Generator(2));
        for (int i = 0; i < 3; i++) model.Predict(x);
        return SteadyBytes(() => model.Predict(x));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void AWarmTrainingStepAllocatesNextToNothing(string name)
    {
        long small = TrainingStepBytes(name, 8), large = TrainingStepBytes(name, 32);
        Assert.True(large - small < GrowthBudget, $"{name}: a warm training step allocated {small:N0} bytes at batch 8 and {large:N0} at batch 32 (growth budget {GrowthBudget:N0})");
        Assert.True(large < Budget, $"{name}: a warm training step allocated {large:N0} bytes (budget {Budget:N0})");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void AWarmPredictAllocatesLittleBeyondItsResult(string name)
    {
        long small = PredictBytes(name, 8), large = PredictBytes(name, 32);
        Assert.True(large - small < GrowthBudget, $"{name}: a warm Predict allocated {small:N0} bytes at batch 8 and {large:N0} at batch 32 (growth budget {GrowthBudget:N0})");
        Assert.True(large < Budget / 2, $"{name}: a warm Predict allocated {large:N0} bytes (budget {Budget / 2:N0})");
    }
}
