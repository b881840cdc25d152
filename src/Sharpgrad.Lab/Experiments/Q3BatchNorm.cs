using System.Globalization;
using Sharpgrad.NN;
using static Sharpgrad.Lab.ExperimentKit;

namespace Sharpgrad.Lab;

/// <summary>
/// Q3: the same MLP with and without batch norm (BatchNorm1d after each hidden Linear layer), trained with plain SGD
/// at two learning rates on the same batches; training loss against step and the steps each run needs to bring its
/// loss (mean of the last 20 steps) under a target.
/// </summary>
public sealed class Q3BatchNorm : LabExperiment
{
    private const int Window = 20, Batch = 64;
    private static readonly double[] Rates = [0.01, 0.1];

    /// <inheritdoc/>
    public override int Number => 3;

    /// <inheritdoc/>
    public override string Title => "Batch normalization";

    /// <inheritdoc/>
    public override string Question => "Which is true of batch normalization: an alternative to dropout / makes training faster / a non-linearity / standardizing the data before training?";

    /// <inheritdoc/>
    public override string Answer => "It makes training faster. It normalizes activations inside the network per mini-batch, with learned scale and shift and running statistics for inference.";

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int steps = context.Quick ? 150 : 600;
        double target = context.Quick ? 0.8 : 0.6;
        var train = Sample(context.FashionMnist.Train, steps * Batch, context.Seed);
        var test = Sample(context.FashionMnist.Test, 1000, context.Seed);
        var loader = new DataLoader(train, Batch);
        var result = new LabResult();
        var labels = new List<string>();
        var curves = new List<double[]>();
        var reached = new List<int?>();
        var accuracy = new List<double>();
        foreach (double lr in Rates)
            foreach (bool bn in new[] { false, true })
            {
                string label = $"{(bn ? "with BN" : "without BN")}, lr {lr.ToString(CultureInfo.InvariantCulture)}";
                context.Report($"q3: {label}, {steps} steps");
                var net = Build(bn, context.Seed);
                var opt = new Sgd(net.Parameters(), lr);
                var losses = new double[steps];
                int s = 0;
                foreach (var batch in loader.Epoch(0))
                {
                    context.Cancellation.ThrowIfCancellationRequested();
                    using var scope = TensorScope.Begin();
                    var loss = Losses.CrossEntropy(net.Call(batch.Images), batch.Labels);
                    losses[s++] = loss.Item();
                    opt.ZeroGrad();
                    loss.Backward();
                    opt.Step();
                    opt.ZeroGrad();
                }
                var smooth = Smooth(losses);
                int first = Array.FindIndex(smooth, v => v <= target);
                labels.Add(label);
                curves.Add(smooth);
                reached.Add(first < 0 ? null : first + 1);
                accuracy.Add(Evaluate(net, test).Accuracy);
            }

        for (int i = 0; i < labels.Count; i++)
        {
            if (reached[i] is int r) result.Add($"{labels[i]}: steps to loss <= {F(target)}", r);
            result.Add($"{labels[i]}: loss after {steps} steps (mean of the last {Window})", curves[i][^1]);
            result.Add($"{labels[i]}: test accuracy (evaluation mode; BN uses its running statistics)", accuracy[i]);
        }
        result.Add("target loss", target);
        result.Add("steps", steps);

        var (p1, f1) = context.PlotFile(this, "loss");
        LabPlots.Lines(p1, $"Training loss (mean of the last {Window} steps), same batches for every run", "step", "cross-entropy loss",
            labels.Select((l, i) => LabSeries.Steps(l, curves[i])).ToList(),
            new LabPlotOptions { IntegerX = true, ReferenceLines = [($"target {F(target)}", target)], Width = 1000 });
        result.Plots.Add(new LabPlot(f1, "With batch norm the loss falls faster at either learning rate."));
        string Steps(int? r) => r is int v ? v.ToString(CultureInfo.InvariantCulture) : $"not reached in {steps}";
        result.Tables.Add(new LabTable($"Steps to a training loss of {F(target)} (mean of the last {Window} steps)",
            ["run", "steps to target", $"loss after {steps} steps", "test accuracy"],
            labels.Select((l, i) => (IReadOnlyList<string>)[l, Steps(reached[i]), F(curves[i][^1]), Pct(accuracy[i])]).ToList()));

        // runs are ordered (lr 0.01: without, with), (lr 0.1: without, with)
        static bool Faster(int? bn, int? plain) => bn is int b && (plain is not int p || b < p);
        string high = Rates[^1].ToString(CultureInfo.InvariantCulture);
        result.Check($"batch norm makes training faster (lr {high})", "with BN reaches the target loss in fewer steps",
            $"{Steps(reached[3])} with BN, {Steps(reached[2])} without", Faster(reached[3], reached[2]));
        result.Findings.Add($"At learning rate {Rates[^1].ToString(CultureInfo.InvariantCulture)} the network with batch norm brings its loss under {F(target)} in {Steps(reached[3])} steps, without it {Steps(reached[2])}; " +
            $"at {Rates[0].ToString(CultureInfo.InvariantCulture)}: {Steps(reached[1])} against {Steps(reached[0])}.");
        result.Findings.Add("Batch norm re-centres and re-scales every layer's inputs per mini-batch, so each layer sees inputs of a steady scale and a larger step stays stable: training is faster. It is not a non-linearity nor a preprocessing of the data.");
        return result;
    }

    private static double[] Smooth(double[] losses)
    {
        var r = new double[losses.Length];
        double sum = 0;
        for (int i = 0; i < losses.Length; i++)
        {
            sum += losses[i];
            if (i >= Window) sum -= losses[i - Window];
            r[i] = sum / Math.Min(i + 1, Window);
        }
        return r;
    }

    /// <summary>Flatten, three times Linear 128 -> [BatchNorm1d] -> ReLU, then Linear 10; the same initial weights with or without BN.</summary>
    private static Sequential Build(bool batchNorm, ulong seed)
    {
        var g = new Generator(seed);
        var net = new Sequential(new Flatten());
        int inputs = 28 * 28;
        for (int l = 0; l < 3; l++)
        {
            net.Add(new Linear(inputs, 128, generator: g));
            if (batchNorm) net.Add(new BatchNorm1d(128));
            net.Add(new ReLU());
            inputs = 128;
        }
        net.Add(new Linear(inputs, 10, generator: g));
        return net;
    }
}
