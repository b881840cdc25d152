using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Sharpgrad.Kernels;
using Sharpgrad.NN;

namespace Sharpgrad.Bench;

/// <summary>
/// The compute roofline the figures are measured against: SHARPGRAD_PEAK_GFLOPS per core times the threads when set,
/// otherwise measured on this machine at start-up: one thread's FMA rate (<see cref="MeasurePeak"/>: twelve
/// independent FMA chains on the widest registers, the best of five 50 ms runs; 101.6 GFLOP/s on the AVX2 EPYC, 175
/// on the AVX-512 Xeon), and, for more threads, the same loop on all of them at once (<see cref="MeasurePeakTogether"/>),
/// since the cores a virtual machine reports may share FMA units (hyperthreads of one core: on the AVX-512 Xeon of
/// 2026-12-01 two threads together ran 163-172 GFLOP/s, what one ran alone). The roofline of T threads is the lower
/// of T times one thread's rate and the rate of T threads together.
/// </summary>
internal static class Roofline
{
    /// <summary>Peak float32 GFLOP/s of one core.</summary>
    /// <exception cref="ArgumentException">SHARPGRAD_PEAK_GFLOPS is set but not a finite positive number (one line).</exception>
    public static double PeakGflopsPerCore => s_peak ??= Configured() ?? MeasurePeak();

    private static double? s_peak;

    /// <summary>Where <see cref="PeakGflopsPerCore"/> comes from, for the reports.</summary>
    public static string Source => Configured() is null ? "measured: FMA loop" : "SHARPGRAD_PEAK_GFLOPS";

    /// <summary>Checks SHARPGRAD_PEAK_GFLOPS before any figure is measured (the first use of the roofline).</summary>
    public static void Check() => _ = Configured();

    // SHARPGRAD_PEAK_GFLOPS when set (a finite positive number of GFLOP/s per core), null when unset or empty
    private static double? Configured()
    {
        string? text = Environment.GetEnvironmentVariable("SHARPGRAD_PEAK_GFLOPS");
        if (string.IsNullOrWhiteSpace(text)) return null;
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) && p > 0 && double.IsFinite(p) ? p
            : throw new ArgumentException($"SHARPGRAD_PEAK_GFLOPS: expected a positive number of GFLOP/s per core (e.g. 102.4), got '{text}'");
    }

    /// <summary>
    /// Float32 GFLOP/s of one core running twelve independent fused multiply-add chains on the widest vector registers
    /// (enough to cover the FMA latency on two FMA ports): the best of five runs of about 50 ms each.
    /// </summary>
    public static double MeasurePeak()
    {
        double best = 0;
        for (int run = 0; run < 5; run++)
        {
            long iterations = 2_000_000;
            var sw = Stopwatch.StartNew();
            int lanes = Vector512.IsHardwareAccelerated ? Fma<Lanes512<float>, Vector512<float>>(iterations)
                : Vector256.IsHardwareAccelerated ? Fma<Lanes256<float>, Vector256<float>>(iterations) : Fma<Lanes1<float>, float>(iterations);
            best = Math.Max(best, iterations * 12.0 * lanes * 2 / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>How the % of peak is counted, for the reports.</summary>
    public const string Explanation = "%peak: FLOPs per image = 2 x the forward MACs (ModelSummary: convolutions and Linear layers), training counted as 3 x forward (forward, input and weight gradients)";

    /// <summary>Forward FLOPs of one image: 2 x the multiply-accumulates that <see cref="ModelSummary"/> counts (convolutions and Linear layers).</summary>
    public static double ForwardFlopsPerImage(Module model, int[] inputShape) => 2.0 * ModelSummary.Create(model, inputShape).Macs;

    /// <summary><paramref name="flopsPerSecond"/> as a percentage of the peak of <paramref name="threads"/> threads (<see cref="PeakGflops"/>).</summary>
    public static double Percent(double flopsPerSecond, int threads) => 100 * flopsPerSecond / (PeakGflops(threads) * 1e9);

    private static readonly Dictionary<int, double> s_together = [];

    /// <summary>
    /// Peak float32 GFLOP/s of <paramref name="threads"/> threads: SHARPGRAD_PEAK_GFLOPS times the threads when set,
    /// otherwise the lower of <see cref="PeakGflopsPerCore"/> times the threads and <see cref="MeasurePeakTogether"/>.
    /// </summary>
    public static double PeakGflops(int threads)
    {
        if (Configured() is double configured) return configured * threads;
        if (threads <= 1) return PeakGflopsPerCore;
        lock (s_together)
        {
            if (!s_together.TryGetValue(threads, out double together)) s_together[threads] = together = MeasurePeakTogether(threads);
            return Math.Min(PeakGflopsPerCore * threads, together);
        }
    }

    /// <summary>
    /// Float32 GFLOP/s of <paramref name="threads"/> threads running <see cref="MeasurePeak"/>'s loop at the same time
    /// (each its own chains, started together): the best of five runs of all the threads' FMAs over the wall time.
    /// </summary>
    public static double MeasurePeakTogether(int threads)
    {
        double best = 0;
        for (int run = 0; run < 5; run++)
        {
            long iterations = 2_000_000;
            int lanes = 0;
            using var start = new Barrier(threads + 1);
            var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
            {
                start.SignalAndWait();
                lanes = Vector512.IsHardwareAccelerated ? Fma<Lanes512<float>, Vector512<float>>(iterations)
                    : Vector256.IsHardwareAccelerated ? Fma<Lanes256<float>, Vector256<float>>(iterations) : Fma<Lanes1<float>, float>(iterations);
            }) { IsBackground = true }).ToList();
            foreach (var t in workers) t.Start();
            start.SignalAndWait();
            var sw = Stopwatch.StartNew();
            foreach (var t in workers) t.Join();
            best = Math.Max(best, threads * iterations * 12.0 * lanes * 2 / sw.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    // twelve independent chains a0..a11 += a * m, on the registers of TL; returns the float lanes of TL
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static int Fma<TL, TV>(long iterations) where TL : struct, ILanes<TV, float> where TV : struct
    {
        var m = TL.Broadcast(0.999999f);
        TV a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (long i = 0; i < iterations; i++)
        {
            a0 = TL.MultiplyAdd(a0, m, m); a1 = TL.MultiplyAdd(a1, m, m); a2 = TL.MultiplyAdd(a2, m, m); a3 = TL.MultiplyAdd(a3, m, m);
            a4 = TL.MultiplyAdd(a4, m, m); a5 = TL.MultiplyAdd(a5, m, m); a6 = TL.MultiplyAdd(a6, m, m); a7 = TL.MultiplyAdd(a7, m, m);
            a8 = TL.MultiplyAdd(a8, m, m); a9 = TL.MultiplyAdd(a9, m, m); a10 = TL.MultiplyAdd(a10, m, m); a11 = TL.MultiplyAdd(a11, m, m);
        }
        // the sum keeps the chains alive (it is never above float.MaxValue)
        var sum = TL.Add(TL.Add(TL.Add(a0, a1), TL.Add(a2, a3)), TL.Add(TL.Add(TL.Add(a4, a5), TL.Add(a6, a7)), TL.Add(TL.Add(a8, a9), TL.Add(a10, a11))));
        return TL.Sum(sum) > float.MaxValue ? 0 : TL.Count;
    }
}
