namespace Sharpgrad.Lab;

/// <summary>
/// Q5: tanh(x) = 2 sigma(2x) - 1. Evaluates |tanh(x) - (2 sigma(2x) - 1)| with Sharpgrad's own Tanh and Sigmoid ops
/// over a grid of x in [-10, 10], in float32 and in float64, and checks that the largest difference is a few units of
/// the type's machine epsilon (2^-23 and 2^-52): the identity holds to float precision.
/// </summary>
public sealed class Q5TanhIdentity : LabExperiment
{
    /// <summary>How many machine epsilons the largest absolute difference may be (rounding in sigma, 2x, and the subtraction).</summary>
    public const double ToleranceEpsilons = 4;

    /// <inheritdoc/>
    public override int Number => 5;

    /// <inheritdoc/>
    public override string Title => "tanh in terms of the sigmoid";

    /// <inheritdoc/>
    public override string Question => "Write tanh(x) in terms of sigma(x).";

    /// <inheritdoc/>
    public override string Answer => "tanh(x) = 2 sigma(2x) - 1.";

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new LabResult();
        int points = context.Quick ? 4001 : 200001;
        const double lo = -10, hi = 10;
        var grid = new double[points];
        for (int i = 0; i < points; i++) grid[i] = lo + (hi - lo) * i / (points - 1);

        var series = new List<LabSeries>();
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            context.Cancellation.ThrowIfCancellationRequested();
            double eps = dtype == DType.Float32 ? MathF.BitIncrement(1f) - 1f : Math.BitIncrement(1.0) - 1.0;
            var x = Tensor.FromArray(grid, points).To(dtype);
            var tanh = x.Tanh();
            var viaSigmoid = x.Mul(2).Sigmoid().Mul(2).Sub(1);
            var err = tanh.Sub(viaSigmoid).Abs().ToDoubleArray();
            var xs = x.ToDoubleArray();
            int arg = 0;
            for (int i = 1; i < points; i++) if (err[i] > err[arg]) arg = i;
            int exact = err.Count(e => e == 0);
            string name = dtype.Name();
            result.Add($"{name}: max |tanh(x) - (2 sigma(2x) - 1)|", err[arg]);
            result.Add($"{name}: at x", xs[arg]);
            result.Add($"{name}: max difference in machine epsilons", err[arg] / eps);
            result.Add($"{name}: mean difference in machine epsilons", err.Average() / eps);
            result.Add($"{name}: points where the two agree exactly (%)", 100.0 * exact / points);
            result.Check($"{name}: max difference within {ToleranceEpsilons} machine epsilons",
                $"<= {LabData.G(ToleranceEpsilons * eps)} ({ToleranceEpsilons} x {LabData.G(eps)})",
                $"{LabData.G(err[arg])} = {err[arg] / eps:F2} eps at x = {xs[arg]:F4}", err[arg] <= ToleranceEpsilons * eps);
            // the largest difference in each of 200 bins of width 0.1: every point would draw as noise
            const int bins = 200;
            var binMax = new double[bins];
            for (int i = 0; i < points; i++)
            {
                int b = Math.Clamp((int)((xs[i] - lo) / (hi - lo) * bins), 0, bins - 1);
                binMax[b] = Math.Max(binMax[b], err[i] / eps);
            }
            series.Add(new LabSeries($"{name} (eps = {LabData.G(eps)})", Enumerable.Range(0, bins).Select(b => lo + (b + 0.5) * (hi - lo) / bins).ToArray(), binMax));
        }
        result.Add("grid points", points);

        var (path, file) = context.PlotFile(this, "difference");
        LabPlots.Lines(path, "|tanh(x) - (2 sigma(2x) - 1)|, largest in each 0.1-wide bin of x", "x", "absolute difference (machine epsilons of the type)",
            series, new LabPlotOptions { Markers = true, ReferenceLines = [($"{ToleranceEpsilons} eps (the check)", ToleranceEpsilons)] });
        result.Plots.Add(new LabPlot(file, $"The difference over {points:N0} points of [-10, 10] in float32 and in float64, each divided by its own machine epsilon (2^-23 and 2^-52); each point is the largest difference in a bin of width 0.1."));

        var coarse = Enumerable.Range(0, 201).Select(i => -5 + i * 0.05).ToArray();
        var cx = Tensor.FromArray(coarse, coarse.Length);
        var (path2, file2) = context.PlotFile(this, "curves");
        LabPlots.Lines(path2, "tanh(x) and 2 sigma(2x) - 1 (float32)", "x", "value",
            [new LabSeries("tanh(x)", coarse, cx.Tanh().ToDoubleArray()), new LabSeries("2 sigma(2x) - 1", coarse, cx.Mul(2).Sigmoid().Mul(2).Sub(1).ToDoubleArray())]);
        result.Plots.Add(new LabPlot(file2, "The two sides of the identity drawn on top of each other: the curves coincide."));

        var n = result.Numbers.ToDictionary(kv => kv.Key, kv => kv.Value);
        result.Findings.Add($"Computed with Sharpgrad's Tanh and Sigmoid ops, tanh(x) and 2 sigma(2x) - 1 differ by at most {LabData.G(n["float32: max |tanh(x) - (2 sigma(2x) - 1)|"])} in float32 and {LabData.G(n["float64: max |tanh(x) - (2 sigma(2x) - 1)|"])} in float64: about {n["float32: max difference in machine epsilons"]:F1} and {n["float64: max difference in machine epsilons"]:F1} machine epsilons, i.e. rounding error, so the identity tanh(x) = 2 sigma(2x) - 1 holds to the precision of each type.");
        double at32 = n["float32: at x"], at64 = n["float64: at x"];
        result.Findings.Add($"The largest differences are at x = {at32:F3} (float32) and x = {at64:F3} (float64)"
            + (Math.Abs(at32) < 2 && Math.Abs(at64) < 2 ? ", where 2 sigma(2x) - 1 subtracts 1 from a number near 1 and keeps only its absolute, not its relative, precision." : "."));
        return result;
    }
}
