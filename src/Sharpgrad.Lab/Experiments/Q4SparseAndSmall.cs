using System.IO.Compression;
using Sharpgrad.NN;
using static Sharpgrad.Lab.ExperimentKit;

namespace Sharpgrad.Lab;

/// <summary>
/// Q4: an MLP trained without a penalty, with L1 (the library's proximal step, which puts weights at exactly zero)
/// and with L2 (weight decay); their weight histograms and shares of zero weights. Then the unpenalized model pruned
/// to rising sparsity by magnitude per layer, by one global threshold and by rates chosen from a sensitivity sweep,
/// with one fine-tuning epoch at 90 %; and the sizes of the dense and the pruned model files.
/// </summary>
public sealed class Q4SparseAndSmall : LabExperiment
{
    private const double L1Strength = 5e-3, WeightDecay = 2e-2, Lr = 0.02;

    /// <inheritdoc/>
    public override int Number => 4;

    /// <inheritdoc/>
    public override string Title => "Sparse and small weights";

    /// <inheritdoc/>
    public override string Question => "How do you make weights sparse and smaller, and why?";

    /// <inheritdoc/>
    public override string Answer => "L1 regularization (drives weights to exactly zero), L2 / weight decay (smaller), and pruning: magnitude pruning removes the smallest weights; " +
        "sensitivity pruning picks each layer's rate from how much accuracy it loses; then fine-tune. Fewer non-zeros mean less memory and compute for little accuracy loss.";

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int trainCount = context.Quick ? 2000 : 10000, epochs = context.Quick ? 3 : 4;
        var train = Sample(context.FashionMnist.Train, trainCount + 1000, context.Seed);
        var validation = train.Subset(Enumerable.Range(trainCount, 1000).ToArray(), "validation");
        train = train.Subset(Enumerable.Range(0, trainCount).ToArray(), "train");
        var test = Sample(context.FashionMnist.Test, context.Quick ? 1000 : 3000, context.Seed);
        var loader = new DataLoader(train, 32, shuffle: true, seed: context.Seed);
        var result = new LabResult();

        // --- L1 against L2 ---
        string[] penalties = ["none", "L1", "L2"];
        var models = new Sequential[penalties.Length];
        var weights = new double[penalties.Length][];
        var accuracy = new double[penalties.Length];
        for (int k = 0; k < penalties.Length; k++)
        {
            models[k] = Build(context.Seed);
            var opt = new Sgd(models[k].Parameters(), Lr, momentum: 0.9, weightDecay: penalties[k] == "L2" ? WeightDecay : 0);
            for (int e = 0; e < epochs; e++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                context.Report($"q4: penalty {penalties[k]}, epoch {e + 1}/{epochs}");
                TrainingLoop.TrainEpoch(models[k], loader, opt, null, e, epochs, l1: penalties[k] == "L1" ? L1Strength : 0);
            }
            weights[k] = Pruner.PrunableWeights(models[k]).SelectMany(p => p.Parameter.Data.ToDoubleArray()).ToArray();
            accuracy[k] = Evaluate(models[k], test).Accuracy;
        }
        var zeros = weights.Select(w => (double)w.Count(v => v == 0) / w.Length).ToArray();
        var nearZero = weights.Select(w => (double)w.Count(v => Math.Abs(v) < 1e-3) / w.Length).ToArray();
        var meanAbs = weights.Select(w => w.Average(Math.Abs)).ToArray();
        for (int k = 0; k < penalties.Length; k++)
        {
            result.Add($"{penalties[k]}: share of weights exactly zero", zeros[k]);
            result.Add($"{penalties[k]}: share of weights with |w| < 1e-3", nearZero[k]);
            result.Add($"{penalties[k]}: mean |w|", meanAbs[k]);
            result.Add($"{penalties[k]}: test accuracy", accuracy[k]);
        }
        result.Add("L1 strength (proximal step)", L1Strength);
        result.Add("L2 weight decay", WeightDecay);

        var (p1, f1) = context.PlotFile(this, "weights");
        LabPlots.Histogram(p1, "Weights of the Linear layers after training", "weight value",
            penalties.Select((p, k) => (p == "none" ? "no penalty" : p, (IReadOnlyList<double>)weights[k])).ToList(), 80, new LabPlotOptions { LogY = true });
        result.Plots.Add(new LabPlot(f1, "L1 piles weights up at exactly zero; L2 keeps them dense and shrinks them all."));
        result.Tables.Add(new LabTable("Weights of the Linear layers per penalty", ["penalty", "exactly zero", "|w| < 1e-3", "mean |w|", "test accuracy"],
            penalties.Select((p, k) => (IReadOnlyList<string>)[p, Pct(zeros[k]), Pct(nearZero[k]), F(meanAbs[k]), Pct(accuracy[k])]).ToList()));

        // --- pruning the unpenalized model ---
        var dense = models[0];
        var state = dense.StateDict().ToDictionary(s => s.Name, s => s.Value.Clone());
        double denseAcc = accuracy[0];
        double[] levels = context.Quick ? [0.5, 0.8, 0.9, 0.95] : [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98];
        context.Report("q4: sensitivity sweep");
        var sweep = Sensitivity.Sweep(dense, InOrder(validation), 10);
        PruneMethod[] methods = [PruneMethod.Magnitude, PruneMethod.Global, PruneMethod.Sensitivity];
        var pruned = new double[methods.Length][];
        for (int m = 0; m < methods.Length; m++)
        {
            pruned[m] = new double[levels.Length];
            for (int i = 0; i < levels.Length; i++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                var copy = Copy(state, context.Seed);
                GradualPruning.PruneTo(copy, methods[m], levels[i], sweep);
                pruned[m][i] = Evaluate(copy, test).Accuracy;
            }
        }
        var names = new[] { "magnitude (per layer)", "global", "sensitivity" };
        var (p2, f2) = context.PlotFile(this, "pruning");
        LabPlots.Lines(p2, "Test accuracy after pruning (no fine-tuning)", "sparsity of the Linear weights (fraction removed)", "test accuracy (fraction correct)",
            names.Select((n, m) => new LabSeries(n, levels, pruned[m])).ToList(), new LabPlotOptions { Markers = true, ReferenceLines = [("dense", denseAcc)] });
        result.Plots.Add(new LabPlot(f2, "Accuracy against sparsity for the three ways of choosing what to prune."));
        result.Tables.Add(new LabTable("Test accuracy after pruning (no fine-tuning)", ["sparsity", .. names],
            levels.Select((s, i) => (IReadOnlyList<string>)[Pct(s), .. methods.Select((_, m) => Pct(pruned[m][i]))]).ToList()));
        for (int m = 0; m < methods.Length; m++)
            for (int i = 0; i < levels.Length; i++)
                result.Add($"{names[m]} at {Pct(levels[i])} sparsity: test accuracy", pruned[m][i]);

        // prune 90 % globally, fine-tune one epoch (the masks hold the pruned weights at zero)
        context.Report("q4: prune 90% and fine-tune");
        var final = Copy(state, context.Seed);
        GradualPruning.PruneTo(final, PruneMethod.Global, 0.9);
        double beforeTune = Evaluate(final, test).Accuracy;
        TrainingLoop.TrainEpoch(final, loader, new Sgd(final.Parameters(), Lr, momentum: 0.9), null, 0, 1);
        double afterTune = Evaluate(final, test).Accuracy;
        var report = SparsityReport.Of(final);
        result.Add("dense test accuracy", denseAcc);
        result.Add("global 90%: test accuracy before fine-tuning", beforeTune);
        result.Add("global 90%: test accuracy after one fine-tuning epoch", afterTune);
        result.Add("global 90%: sparsity after fine-tuning", report.Sparsity);

        // --- file sizes ---
        var dir = Path.Combine(Path.GetTempPath(), "sharpgrad-lab-q4-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        long denseFile, prunedFile, denseGz, prunedGz;
        try
        {
            var a = Path.Combine(dir, "dense.safetensors");
            var b = Path.Combine(dir, "pruned.safetensors");
            SafeTensors.Write(a, dense.StateDict());
            SafeTensors.Write(b, final.StateDict());
            (denseFile, denseGz) = (new FileInfo(a).Length, GzipSize(a));
            (prunedFile, prunedGz) = (new FileInfo(b).Length, GzipSize(b));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        string[] sizeNames = ["dense file", "dense, gzip", "pruned file", "pruned, gzip", "pruned, sparse (value + index)"];
        double[] sizes = [denseFile, denseGz, prunedFile, prunedGz, report.SparseBytes];
        for (int i = 0; i < sizes.Length; i++) result.Add($"size: {sizeNames[i]} (bytes)", sizes[i]);
        var (p3, f3) = context.PlotFile(this, "sizes");
        LabPlots.Bars(p3, "Model size in bytes (safetensors; gzip = System.IO.Compression, level Optimal)", "bytes", sizeNames, sizes);
        result.Plots.Add(new LabPlot(f3, "The pruned model's file has the dense layout (zeros are stored); compressed, or stored as value + index per non-zero, it is a fraction of the dense one."));
        result.Tables.Add(new LabTable("Model sizes", ["file", "bytes"], sizeNames.Select((n, i) => (IReadOnlyList<string>)[n, N((long)sizes[i])]).ToList()));

        result.Check("L1 drives weights to exactly zero, L2 does not", "share of exact zeros: L1 > L2",
            $"L1 {Pct(zeros[1])}, L2 {Pct(zeros[2])}", zeros[1] > zeros[2]);
        result.Check("L2 makes weights smaller", "mean |w|: L2 < no penalty", $"L2 {F(meanAbs[2])}, none {F(meanAbs[0])}", meanAbs[2] < meanAbs[0]);
        result.Check("pruning makes the model smaller", "gzip size: pruned 90% < dense", $"{N(prunedGz)} against {N(denseGz)} bytes", prunedGz < denseGz);
        result.Findings.Add($"With the L1 penalty {Pct(zeros[1])} of the weights are exactly zero (L2: {Pct(zeros[2])}, none: {Pct(zeros[0])}); L2 shrinks the mean |w| from {F(meanAbs[0])} to {F(meanAbs[2])} without zeroing any. " +
            $"Test accuracy: none {Pct(accuracy[0])}, L1 {Pct(accuracy[1])}, L2 {Pct(accuracy[2])}.");
        result.Findings.Add($"Pruning 90% of the weights by one global threshold keeps {Pct(beforeTune)} accuracy ({Pct(afterTune)} after one fine-tuning epoch) against {Pct(denseAcc)} dense; " +
            $"the compressed file shrinks from {N(denseGz)} to {N(prunedGz)} bytes.");
        return result;
    }

    /// <summary>Flatten -> Linear 256 -> ReLU -> Linear 128 -> ReLU -> Linear 10.</summary>
    private static Sequential Build(ulong seed) => Models.Mlp(28 * 28, [256, 128], 10, generator: new Generator(seed));

    private static Sequential Copy(Dictionary<string, Tensor> state, ulong seed)
    {
        var m = Build(seed);
        m.LoadStateDict(state);
        return m;
    }

    private static long GzipSize(string path)
    {
        using var buffer = new MemoryStream();
        using (var gz = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        using (var file = File.OpenRead(path))
            file.CopyTo(gz);
        return buffer.Length;
    }
}
