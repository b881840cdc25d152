using System.Diagnostics;
using System.Globalization;

namespace Sharpgrad.Bench;

/// <summary>One engine's figure: median and range over the repetitions, and the median as % of the roofline.</summary>
internal sealed record EngineFigure(string Engine, double Median, double Min, double Max, double RooflinePercent);

/// <summary>One figure of the side-by-side benchmark: Sharpgrad, the other engines, and Sharpgrad's allocation per step.</summary>
internal sealed record Figure(string Name, string Unit, EngineFigure Sharpgrad, IReadOnlyList<EngineFigure> Others, double BytesPerStep, double GcPauseShare)
{
    public bool Latency => Unit == "us";

    /// <summary>How many times faster Sharpgrad is than <paramref name="other"/> (above 1: Sharpgrad is faster).</summary>
    public double Ratio(EngineFigure other) => Latency ? other.Median / Sharpgrad.Median : Sharpgrad.Median / other.Median;

    public static string Header(IEnumerable<string> others) =>
        $"{"figure",-24} {"unit",-6} {"sharpgrad (median, min-max)",-30} {"%peak",6}" +
        string.Concat(others.Select(o => $"  {o + " (median, min-max)",-30} {"%peak",6} {"ratio",6}")) + "  Sharpgrad allocation per step";

    public string Line(IReadOnlyList<string> columns)
    {
        string Cell(EngineFigure e) => Latency ? $"{e.Median:F1} ({e.Min:F1}-{e.Max:F1})" : $"{e.Median:N0} ({e.Min:N0}-{e.Max:N0})";
        var text = new System.Text.StringBuilder(string.Create(CultureInfo.InvariantCulture,
            $"{Name,-24} {Unit,-6} {Cell(Sharpgrad),-30} {Sharpgrad.RooflinePercent,5:F1}%"));
        foreach (var column in columns)
        {
            var o = Others.FirstOrDefault(e => e.Engine == column);
            text.Append(o is null
                ? $"  {"-",-30} {"",6} {"",6}"
                : string.Create(CultureInfo.InvariantCulture, $"  {Cell(o),-30} {o.RooflinePercent,5:F1}% {Ratio(o),5:F2}x"));
        }
        text.Append(string.Create(CultureInfo.InvariantCulture, $"  {BytesPerStep / 1e6:F3} MB ({100 * GcPauseShare:F0}% of the time in GC pauses)"));
        return text.ToString();
    }

    /// <summary>The figure as a JSON record: each engine's median, min, max and roofline %, and ratio_ENGINE for each other engine.</summary>
    public Dictionary<string, object> Record()
    {
        var r = new Dictionary<string, object> { ["figure"] = Name, ["unit"] = Unit };
        foreach (var e in Others.Prepend(Sharpgrad))
        {
            r[e.Engine] = Math.Round(e.Median, 1);
            r[e.Engine + "_min"] = Math.Round(e.Min, 1);
            r[e.Engine + "_max"] = Math.Round(e.Max, 1);
            r[e.Engine + "_roofline_percent"] = Math.Round(e.RooflinePercent, 2);
        }
        foreach (var o in Others) r["ratio_" + o.Engine] = Math.Round(Ratio(o), 3);
        if (Others.Count > 0) r["ratio"] = Math.Round(Ratio(Others[0]), 3); // against the first other engine, as before
        r["sharpgrad_bytes_per_step"] = Math.Round(BytesPerStep);
        r["sharpgrad_gc_pause_share"] = Math.Round(GcPauseShare, 3);
        return r;
    }
}

/// <summary>
/// Times engines on the same work, alternating: each warms up by time (past tiered JIT, ~100 ms of calls), then
/// repetitions of each in turn with a 30 ms pause before each, so that the other engine's spinning worker threads
/// (OpenMP's, ONNX Runtime's, the .NET pool's) have gone idle and none starts on a busy machine. Ratios come from
/// one run; the machine is shared, so absolute figures move between runs.
/// </summary>
internal static class SideBySide
{
    private static bool s_warm;

    /// <summary>
    /// Lets TorchSharp load (<see cref="ElfPatch"/>) and gives Sharpgrad and libtorch <paramref name="threads"/>
    /// threads (libtorch: intra-op; inter-op 1); ONNX Runtime gets them per session (<see cref="OrtRunner"/>).
    /// </summary>
    public static void UseThreads(int threads)
    {
        var patched = ElfPatch.PatchBesideExecutable();
        if (patched is not null) Console.WriteLine($"patched {patched}: GLIBCXX_3.4.32 requirement marked weak");
        Parallelism.MaxThreads = threads;
        TorchSharp.torch.set_num_threads(threads);
        TorchSharp.torch.set_num_interop_threads(1);
    }

    /// <summary>The machine line every report starts with.</summary>
    public static string Machine(int threads) =>
        $"threads {threads}; {Environment.ProcessorCount} cores, AVX2: {System.Runtime.Intrinsics.X86.Avx2.IsSupported}, AVX-512: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}; roofline {Roofline.PeakGflopsPerCore:F1} GFLOP/s per core ({Roofline.Source}) x {threads}{(threads > 1 ? $", {Roofline.PeakGflops(threads):F1} GFLOP/s for the {threads} threads together (the lower of that and the threads' FMA loop run at once)" : "")}";

    /// <summary>Measures one figure.</summary>
    /// <param name="name">Figure name, e.g. "train 3x32x32 b64".</param>
    /// <param name="batch">Images per step.</param>
    /// <param name="latency">Report microseconds per step (batch 1) instead of images per second.</param>
    /// <param name="flopsPerImage">FLOPs one image costs in this figure (training: 3 x forward) for the roofline %.</param>
    /// <param name="threads">Threads each engine uses (the roofline is their peak).</param>
    /// <param name="sharpgrad">Sharpgrad's step; its allocation is measured over 20 warm steps afterwards.</param>
    /// <param name="others">The other engines: name and step.</param>
    /// <param name="reps">Repetitions per engine.</param>
    /// <param name="quick">Shorter warm-up (0.15 s instead of 0.4 s; the process's first figure 1 s either way) and repetitions (0.15 s instead of 0.5 s).</param>
    public static Figure Measure(string name, int batch, bool latency, double flopsPerImage, int threads, Action sharpgrad,
        IReadOnlyList<(string Engine, Action Step)> others, int reps, bool quick)
    {
        var steps = others.Select(o => o.Step).Prepend(sharpgrad).ToList();
        // the process's first figure warms up for 1 s: its methods are still being tiered up (in the first --quick
        // runs the first figure read up to 5x slower after 0.15 s)
        int warmMs = s_warm ? (quick ? 150 : 400) : 1000;
        s_warm = true;
        foreach (var step in steps)
            for (var warm = Stopwatch.StartNew(); warm.ElapsedMilliseconds < warmMs;) step();
        double target = quick ? 0.15 : 0.5; // seconds per repetition
        var iterations = steps.Select(s => Math.Max(1, (int)(target / Math.Max(1e-6, Time(s, 3) / 3)))).ToList();
        var seconds = steps.Select(_ => new List<double>()).ToList();
        for (int r = 0; r < reps; r++)
            for (int e = 0; e < steps.Count; e++)
            {
                Thread.Sleep(30);
                seconds[e].Add(Time(steps[e], iterations[e]) / iterations[e]);
            }
        var (bytes, gc) = Allocation(sharpgrad);
        EngineFigure Summarize(string engine, List<double> s)
        {
            var v = s.Select(t => latency ? t * 1e6 : batch / t).Order().ToArray();
            double median = v[v.Length / 2];
            double flopsPerSecond = latency ? flopsPerImage * batch / (median / 1e6) : flopsPerImage * median;
            return new EngineFigure(engine, median, v[0], v[^1], Roofline.Percent(flopsPerSecond, threads));
        }
        return new Figure(name, latency ? "us" : "img/s", Summarize("sharpgrad", seconds[0]),
            [.. others.Select((o, i) => Summarize(o.Engine, seconds[i + 1]))], bytes, gc);
    }

    /// <summary>Bytes allocated per step and the share of the wall time spent in GC pauses, over 20 warm steps.</summary>
    public static (double BytesPerStep, double GcPauseShare) Allocation(Action step, int steps = 20)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var pause0 = GC.GetTotalPauseDuration();
        var wall = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) step();
        double gcShare = (GC.GetTotalPauseDuration() - pause0).TotalSeconds / wall.Elapsed.TotalSeconds;
        return ((GC.GetTotalAllocatedBytes(precise: true) - before) / (double)steps, gcShare);
    }

    private static double Time(Action step, int iterations)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++) step();
        return sw.Elapsed.TotalSeconds;
    }
}
