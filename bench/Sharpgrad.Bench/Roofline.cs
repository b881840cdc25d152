using System.Globalization;
using Sharpgrad.NN;

namespace Sharpgrad.Bench;

/// <summary>
/// The compute roofline the figures are measured against: SHARPGRAD_PEAK_GFLOPS per core (default 102.4: 2 FMA units
/// x 8 float32 lanes x 2 flops x 3.2 GHz, this project's AVX2 EPYC) times the threads used.
/// </summary>
internal static class Roofline
{
    /// <summary>Peak float32 GFLOP/s of one core.</summary>
    public static double PeakGflopsPerCore { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("SHARPGRAD_PEAK_GFLOPS"), NumberStyles.Float, CultureInfo.InvariantCulture, out double p) && p > 0 ? p : 102.4;

    /// <summary>How the % of peak is counted, for the reports.</summary>
    public const string Explanation = "%peak: FLOPs per image = 2 x the forward MACs (ModelSummary: convolutions and Linear layers), training counted as 3 x forward (forward, input and weight gradients)";

    /// <summary>Forward FLOPs of one image: 2 x the multiply-accumulates that <see cref="ModelSummary"/> counts (convolutions and Linear layers).</summary>
    public static double ForwardFlopsPerImage(Module model, int[] inputShape) => 2.0 * ModelSummary.Create(model, inputShape).Macs;

    /// <summary><paramref name="flopsPerSecond"/> as a percentage of the peak of <paramref name="threads"/> cores.</summary>
    public static double Percent(double flopsPerSecond, int threads) => 100 * flopsPerSecond / (PeakGflopsPerCore * 1e9 * threads);
}
