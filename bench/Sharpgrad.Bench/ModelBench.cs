using System.Diagnostics;
using System.Globalization;
using Sharpgrad;
using Sharpgrad.NN;

namespace Sharpgrad.Bench;

/// <summary>
/// --model NAME: a Sharpgrad training step (forward, cross-entropy, backward, SGD with momentum) and an eval-mode
/// forward of any built-in model (<see cref="Models"/>), median and range of repetitions; Sharpgrad only (the
/// TorchSharp side covers the exam CNN). With --profile, each top-level layer's forward and backward as well.
/// </summary>
internal static class ModelBench
{
    public static int Run(string[] args)
    {
        string name = args[0];
        int c = 1, h = 28, batch = 128, reps = 5, threads = Environment.ProcessorCount;
        bool profile = false;
        for (int i = 1; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]}: expected a value after it");
            switch (args[i])
            {
                case "--batch": batch = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--reps": reps = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--input":
                    var parts = Value().Split('x');
                    if (parts.Length != 3 || parts[1] != parts[2]) throw new ArgumentException("--input: expected CxHxH, e.g. 1x28x28");
                    c = int.Parse(parts[0], CultureInfo.InvariantCulture);
                    h = int.Parse(parts[1], CultureInfo.InvariantCulture);
                    break;
                case "--profile": profile = true; break;
                default: throw new ArgumentException($"unknown argument {args[i]}; expected --input CxHxH, --batch N, --reps N, --threads N, --profile");
            }
        }
        Parallelism.MaxThreads = threads;
        var g = new Sharpgrad.Generator(1);
        var model = Models.Create(name, c, h, h, 10, generator: g);
        model.Fuse();
        var x = Sharpgrad.Tensor.Randn([batch, c, h, h], g);
        int[] labels = [.. Enumerable.Range(0, batch).Select(i => i % 10)];
        var opt = new Sgd(model.Parameters(), 0.01, momentum: 0.9);
        void Train()
        {
            using var scope = Sharpgrad.TensorScope.Begin();
            var loss = Losses.CrossEntropy(model.Forward(x), labels);
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
            opt.ZeroGrad();
        }
        void Infer()
        {
            using var scope = Sharpgrad.TensorScope.Begin();
            using var _ = GradMode.NoGrad();
            model.Forward(x);
        }
        Console.WriteLine($"{name} {c}x{h}x{h} batch {batch}, threads {threads}, {reps} repetitions; AVX-512: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");
        model.Train();
        Report("train step", Train, batch, reps);
        model.Eval();
        Report("inference", Infer, batch, reps);
        if (profile && model is Sequential seq)
        {
            model.Train();
            LayerProfile.Run(seq, c, h, batch, 11);
        }
        return 0;
    }

    private static void Report(string what, Action step, int batch, int reps)
    {
        for (var warm = Stopwatch.StartNew(); warm.ElapsedMilliseconds < 500;) step();
        var ms = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            int k = 0;
            do
            {
                step();
                k++;
            }
            while (sw.ElapsedMilliseconds < 300);
            ms[r] = sw.Elapsed.TotalMilliseconds / k;
        }
        Array.Sort(ms);
        double med = ms[reps / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {what,-11} {med,9:F2} ms ({ms[0]:F2}-{ms[^1]:F2}), {batch / (med / 1000):N0} img/s"));
    }
}
