using System.Diagnostics;
using Sharpgrad;
using Sharpgrad.NN;

namespace Sharpgrad.Bench;

/// <summary>Where a training step's time goes: each layer's forward and backward timed on its own (--profile).</summary>
internal static class LayerProfile
{
    private const int WarmUpMs = 400;

    public static void Run(int c, int h, int batch, int iterations) => Run(ExamCnn.Create(c, h, h, generator: new Sharpgrad.Generator(1)), c, h, batch, iterations);

    /// <summary>Each top-level layer of <paramref name="model"/> (a block counts as one layer), fused as the trainer runs it.</summary>
    public static void Run(Sequential model, int c, int h, int batch, int iterations)
    {
        var g = new Sharpgrad.Generator(1);
        model.Fuse();
        var x = Sharpgrad.Tensor.Randn([batch, c, h, h], g);
        int[] labels = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
        var inputs = new List<Sharpgrad.Tensor>();
        var cur = x;
        using (GradMode.NoGrad())
            foreach (var l in model.Layers)
            {
                inputs.Add(cur);
                cur = l.Forward(cur);
            }
        Console.WriteLine($"layer profile, {c}x{h}x{h} batch {batch}, {iterations} iterations, threads {Parallelism.MaxThreads} (median ms per iteration)");
        double totalF = 0, totalB = 0;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var input = inputs[i].Detach().RequiresGrad_(i > 0); // the network's input needs no gradient
            void ClearGrads()
            {
                // gradients are pooled per scope: none may carry over to the next iteration
                input.Grad = null;
                foreach (var p in layer.Parameters()) p.Grad = null;
            }
            // past tiered JIT: methods reach optimized code only after ~100 ms of calls
            // a layer with no parameters on the network's input (a leading Flatten) records no backward: forward only
            bool backward;
            using (Sharpgrad.TensorScope.Begin()) backward = layer.Forward(input).RequiresGrad;
            for (var warmUp = Stopwatch.StartNew(); warmUp.ElapsedMilliseconds < WarmUpMs;)
            {
                using var warm = Sharpgrad.TensorScope.Begin();
                var y = layer.Forward(input);
                if (backward) y.Sum().Backward();
                ClearGrads();
            }
            // the median of the iterations: robust to the other work on a shared machine
            var f = new double[iterations];
            var b = new double[iterations];
            for (int it = 0; it < iterations; it++)
            {
                using var scope = Sharpgrad.TensorScope.Begin(); // as the trainer's steps
                var sw = Stopwatch.StartNew();
                var y = layer.Forward(input);
                f[it] = sw.Elapsed.TotalMilliseconds;
                if (backward)
                {
                    var up = Sharpgrad.Tensor.OnesLike(y);
                    sw.Restart();
                    y.Backward(up);
                    b[it] = sw.Elapsed.TotalMilliseconds;
                }
                ClearGrads();
            }
            double fm = Median(f), bm = Median(b);
            totalF += fm;
            totalB += bm;
            Console.WriteLine($"  {i} {layer.TypeName,-12} forward {fm,8:F3}  backward {bm,8:F3}");
        }
        var logits = cur.Detach().RequiresGrad_();
        void Loss()
        {
            using var scope = Sharpgrad.TensorScope.Begin();
            Losses.CrossEntropy(logits, labels).Backward();
            logits.Grad = null;
        }
        for (var warmUp = Stopwatch.StartNew(); warmUp.ElapsedMilliseconds < WarmUpMs;) Loss();
        var s2 = Stopwatch.StartNew();
        for (int it = 0; it < iterations; it++) Loss();
        double ce = s2.Elapsed.TotalMilliseconds / iterations;
        var opt = new Sgd(model.Parameters(), 0.01, momentum: 0.9);
        foreach (var p in model.Parameters()) p.Grad = Sharpgrad.Tensor.OnesLike(p.Data);
        for (var warmUp = Stopwatch.StartNew(); warmUp.ElapsedMilliseconds < WarmUpMs;) opt.Step();
        s2.Restart();
        for (int it = 0; it < iterations; it++) opt.Step();
        double st = s2.Elapsed.TotalMilliseconds / iterations;
        Console.WriteLine($"  loss fwd+bwd {ce:F3}, SGD step {st:F3}; layers forward {totalF:F3} + backward {totalB:F3} = {totalF + totalB + ce + st:F3} ms -> {batch / ((totalF + totalB + ce + st) / 1000):N0} img/s");
        Console.WriteLine($"  GC: gen0 {GC.CollectionCount(0)}, gen1 {GC.CollectionCount(1)}, gen2 {GC.CollectionCount(2)}, allocated {GC.GetTotalAllocatedBytes() / 1e6:N0} MB");
    }

    /// <summary>Evaluation-mode forward of each layer under no-grad, on its own (--profile C B infer).</summary>
    public static void RunInference(int c, int h, int batch, int iterations) => RunInference(ExamCnn.Create(c, h, h, generator: new Sharpgrad.Generator(1)), c, h, batch, iterations);

    /// <summary>Evaluation-mode forward of each top-level layer of <paramref name="model"/> on its own, then the fused model's.</summary>
    public static void RunInference(Sequential model, int c, int h, int batch, int iterations)
    {
        var g = new Sharpgrad.Generator(2);
        model.Fuse();
        model.Eval();
        var x = Sharpgrad.Tensor.Randn([batch, c, h, h], g);
        using var _ = GradMode.NoGrad();
        var inputs = new List<Sharpgrad.Tensor>();
        var cur = x;
        foreach (var l in model.Layers)
        {
            inputs.Add(cur);
            cur = l.Forward(cur);
        }
        Console.WriteLine($"inference profile, {c}x{h}x{h} batch {batch}, {iterations} iterations, threads {Parallelism.MaxThreads} (median us per iteration)");
        double total = 0;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            var layer = model.Layers[i];
            var f = new double[iterations];
            for (var warmUp = Stopwatch.StartNew(); warmUp.ElapsedMilliseconds < WarmUpMs;)
                using (Sharpgrad.TensorScope.Begin()) layer.Forward(inputs[i]);
            for (int it = 0; it < iterations; it++)
            {
                using var scope = Sharpgrad.TensorScope.Begin();
                var sw = Stopwatch.StartNew();
                layer.Forward(inputs[i]);
                f[it] = sw.Elapsed.TotalMicroseconds;
            }
            total += Median(f);
            Console.WriteLine($"  {i} {layer.TypeName,-12} {Median(f),9:F1}");
        }
        for (var warmUp = Stopwatch.StartNew(); warmUp.ElapsedMilliseconds < WarmUpMs;)
            using (Sharpgrad.TensorScope.Begin()) model.Forward(x);
        var whole = new double[iterations];
        for (int it = 0; it < iterations; it++)
        {
            using var scope = Sharpgrad.TensorScope.Begin();
            var sw = Stopwatch.StartNew();
            model.Forward(x);
            whole[it] = sw.Elapsed.TotalMicroseconds;
        }
        var loop = Stopwatch.StartNew();
        for (int it = 0; it < iterations; it++)
        {
            using var scope = Sharpgrad.TensorScope.Begin();
            model.Forward(x);
        }
        double mean = loop.Elapsed.TotalMicroseconds / iterations;
        Console.WriteLine($"  layers one by one {total:F1} us; the model's forward (fused: {Fused(model)}) {Median(whole):F1} us -> {batch / (Median(whole) / 1e6):N0} img/s; back to back {mean:F1} us");
    }

    // the plan's fused steps, e.g. "0+1+2+3; 4+5+6", or "none"
    private static string Fused(Sequential model)
    {
        var steps = model.Plan.Where(p => p.Contains('+', StringComparison.Ordinal)).Select(p => p[..p.IndexOf(':', StringComparison.Ordinal)]).ToList();
        return steps.Count == 0 ? "none" : string.Join("; ", steps);
    }

    private static double Median(double[] v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
