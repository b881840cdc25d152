using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Sharpgrad;
using Sharpgrad.Kernels;

namespace Sharpgrad.Bench;

/// <summary>
/// The float32 GEMM (issue #11) at 512^3 and at the shapes the built-in models produce at batch 128 on 1x28x28 (the
/// mlp's Linear 784-256 forward and its two backward products; lenet5's and resnet8's im2col products: forward
/// W col, weight gradient dy col^T, input gradient W^T dy for one image), each against <see cref="GemmBaseline"/>
/// (the kernel before the rewrite) in the same run and process, on 1 thread and, for 512^3 and the Linear shapes, 2. Columns GFLOP/s and
/// % of peak, where the peak is <see cref="Roofline.PeakGflops"/> of the threads (SHARPGRAD_PEAK_GFLOPS times the threads,
/// or measured with an FMA loop: one thread's rate times the threads, or all threads' together where that is lower).
/// Run: dotnet run -c Release --project bench/Sharpgrad.Bench -- --kernels --filter *GemmShape*
/// </summary>
[Config(typeof(Config))]
public class GemmShapeBenchmarks
{
    /// <summary>name, m, n, k, A transposed, B transposed (read in place through their strides).</summary>
    internal static readonly (string Name, int M, int N, int K, bool TA, bool TB)[] Shapes =
    [
        ("512^3", 512, 512, 512, false, false),
        ("mlp x W^T", 128, 256, 784, false, true),
        ("mlp dy W", 128, 784, 256, false, false),
        ("mlp dy^T x", 256, 784, 128, true, false),
        ("lenet c1 fwd", 6, 784, 25, false, false),
        ("lenet c2 fwd", 16, 100, 150, false, false),
        ("lenet c2 dW", 16, 150, 100, false, true),
        ("lenet c2 dcol", 150, 100, 16, true, false),
        ("res8 s2 fwd", 32, 196, 144, false, false),
        ("res8 s2 dW", 32, 144, 196, false, true),
        ("res8 s2 dcol", 144, 196, 32, true, false),
        ("res8 s3 fwd", 64, 49, 288, false, false),
    ];

    /// <summary>Every shape on 1 thread; the Linear shapes and 512^3 also on 2 (a convolution's GEMMs run inside its per-image split).</summary>
    public static IEnumerable<string> Cases()
    {
        foreach (var s in Shapes)
        {
            yield return s.Name + " t1";
            if (s.Name.StartsWith("512", StringComparison.Ordinal) || s.Name.StartsWith("mlp", StringComparison.Ordinal)) yield return s.Name + " t2";
        }
    }

    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "";

    private float[] _a = [], _b = [], _c = [];
    private int _m, _n, _k, _rsA, _csA, _rsB, _csB, _threads;

    [GlobalSetup]
    public void Setup()
    {
        var s = Shapes.First(x => Case.StartsWith(x.Name + " ", StringComparison.Ordinal));
        _threads = Case.EndsWith("t2", StringComparison.Ordinal) ? 2 : 1;
        (_m, _n, _k) = (s.M, s.N, s.K);
        var g = new Generator(1);
        _a = Sharpgrad.Tensor.Randn([_m * _k], g).ToArray();
        _b = Sharpgrad.Tensor.Randn([_k * _n], g).ToArray();
        _c = new float[_m * _n];
        (_rsA, _csA) = s.TA ? (1, _m) : (_k, 1);
        (_rsB, _csB) = s.TB ? (1, _k) : (_n, 1);
        Parallelism.MaxThreads = _threads;
    }

    [Benchmark(Baseline = true)]
    public void Before() => GemmBaseline.Multiply<float>(_m, _n, _k, _a, _rsA, _csA, _b, _rsB, _csB, _c, _n, accumulate: false);

    [Benchmark]
    public void After() => Gemm.Multiply<float>(_m, _n, _k, _a, _rsA, _csA, _b, _rsB, _csB, _c, _n, accumulate: false);

    internal static double Flops(string caseName)
    {
        var s = Shapes.First(x => caseName.StartsWith(x.Name + " ", StringComparison.Ordinal));
        return 2.0 * s.M * s.N * s.K;
    }

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.ShortRun.WithWarmupCount(3).WithIterationCount(7).WithLaunchCount(1).WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance));
            AddColumn(new FlopsColumn(false), new FlopsColumn(true));
            WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
        }
    }

    // GFLOP/s from the mean time, or that as % of the peak of the threads the case uses
    private sealed class FlopsColumn(bool percent) : IColumn
    {
        private static readonly double s_peak = Roofline.PeakGflopsPerCore;

        public string Id => percent ? "PeakPercent" : "GFlops";
        public string ColumnName => percent ? "% of peak" : "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => percent ? 1 : 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => percent ? $"GFLOP/s as % of the peak of the threads used ({s_peak:F1} GFLOP/s per thread, {Roofline.PeakGflops(2):F1} for two together)" : "2 m n k / mean time";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats is null) return "NA";
            string name = (string)benchmarkCase.Parameters["Case"];
            double gflops = Flops(name) / stats.Mean; // flops per ns = GFLOP/s
            int threads = name.EndsWith("t2", StringComparison.Ordinal) ? 2 : 1;
            return percent ? (100 * gflops / Roofline.PeakGflops(threads)).ToString("F0", CultureInfo.InvariantCulture) + "%" : gflops.ToString("F1", CultureInfo.InvariantCulture);
        }
    }
}
