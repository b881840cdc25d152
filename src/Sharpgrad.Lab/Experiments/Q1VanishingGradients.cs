using Sharpgrad.NN;
using static Sharpgrad.Lab.ExperimentKit;

namespace Sharpgrad.Lab;

/// <summary>
/// Q1: a deep MLP with sigmoid, tanh and ReLU, the same He-initialized weights, a few SGD steps on Fashion-MNIST; a
/// <see cref="GradientMonitor"/> records per-layer mean |dL/dW| and |dL/dz| (z the pre-activation), and hooks on each
/// sigmoid measure the factor |dL/dz| / |dL/da| it applies to the gradient element by element: sigma'(z) &lt;= 1/4.
/// </summary>
public sealed class Q1VanishingGradients : LabExperiment
{
    private const int Hidden = 9, Width = 64, Batch = 128;

    /// <inheritdoc/>
    public override int Number => 1;

    /// <inheritdoc/>
    public override string Title => "Vanishing gradients";

    /// <inheritdoc/>
    public override string Question => "When backprop passes through a sigmoid, does the gradient always shrink in magnitude?";

    /// <inheritdoc/>
    public override string Answer => "Yes. sigma'(z) = sigma(z)(1 - sigma(z)) <= 1/4, so the upstream gradient is multiplied by at most 0.25 (vanishing gradients).";

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int steps = context.Quick ? 5 : 30;
        var data = Sample(context.FashionMnist.Train, steps * Batch, context.Seed);
        var loader = new DataLoader(data, Batch);
        var result = new LabResult();
        string[] names = ["sigmoid", "tanh", "relu"];
        var weightGrad = new double[names.Length][];
        var zGrad = new double[names.Length][];
        var firstLayerBySteps = new double[names.Length][];
        double maxFactor = 0, maxSigmaPrime = 0;
        var factorSum = new double[Hidden * 2];
        for (int a = 0; a < names.Length; a++)
        {
            context.Cancellation.ThrowIfCancellationRequested();
            context.Report($"q1: {names[a]} network, {steps} steps");
            var net = Build(names[a], context.Seed);
            using var monitor = new GradientMonitor(net, (_, m) => m is Linear);
            var handles = new List<IDisposable>();
            if (names[a] == "sigmoid")
            {
                var sigmoids = net.Layers.OfType<Sigmoid>().ToList();
                for (int l = 0; l < sigmoids.Count; l++)
                {
                    int layer = l;
                    handles.Add(sigmoids[l].RegisterForwardHook((_, z, y) =>
                    {
                        if (!y.RequiresGrad) return;
                        var yv = y.ToDoubleArray();
                        foreach (var s in yv) maxSigmaPrime = Math.Max(maxSigmaPrime, s * (1 - s));
                        double[]? upstream = null; // dL/da, seen first in the backward pass
                        y.RegisterHook(g => upstream = g.ToDoubleArray());
                        z.RegisterHook(g =>
                        {
                            var dz = g.ToDoubleArray();
                            for (int i = 0; i < dz.Length; i++)
                            {
                                double up = Math.Abs(upstream![i]);
                                if (up > 0) maxFactor = Math.Max(maxFactor, Math.Abs(dz[i]) / up);
                                factorSum[2 * layer] += Math.Abs(dz[i]);
                                factorSum[2 * layer + 1] += up;
                            }
                        });
                    }));
                }
            }
            var opt = new Sgd(net.Parameters(), lr: 0.1);
            foreach (var batch in loader.Epoch(0))
            {
                var loss = Losses.CrossEntropy(net.Call(batch.Images), batch.Labels);
                opt.ZeroGrad();
                loss.Backward();
                monitor.Record();
                opt.Step();
            }
            foreach (var h in handles) h.Dispose();
            int layers = monitor.Layers.Count;
            weightGrad[a] = Enumerable.Range(0, layers).Select(l => monitor.Steps.Average(s => s.WeightGrad[l])).ToArray();
            zGrad[a] = Enumerable.Range(0, layers).Select(l => monitor.Steps.Average(s => s.OutputGrad[l])).ToArray();
            firstLayerBySteps[a] = monitor.Steps.Select(s => s.WeightGrad[0]).ToArray();
        }

        // the sigmoid's own factor per layer: sum |dL/dz| / sum |dL/da| over every element and step
        var layerFactor = Enumerable.Range(0, Hidden).Select(l => factorSum[2 * l] / factorSum[2 * l + 1]).ToArray();
        // the whole layer's shrink (sigmoid and weights): |dL/dz| of a layer over that of the next one
        var sigmoidLayerShrink = Enumerable.Range(0, Hidden).Select(l => zGrad[0][l] / zGrad[0][l + 1]).ToArray();
        var firstOverLast = weightGrad.Select(w => w[0] / w[^1]).ToArray();

        result.Add("sigmoid: largest factor |dL/dz| / |dL/da| over every element", maxFactor);
        result.Add("sigmoid: largest sigma'(z) = s(1 - s) seen in the forward passes", maxSigmaPrime);
        result.Add("sigmoid: mean factor over the layers (sum |dL/dz| / sum |dL/da|)", layerFactor.Average());
        result.Add("sigmoid: geometric mean shrink of |dL/dz| per layer (sigmoid and weights)", Math.Exp(sigmoidLayerShrink.Average(Math.Log)));
        for (int a = 0; a < names.Length; a++)
            result.Add($"{names[a]}: mean |dL/dW| of layer 1 / of layer {Hidden + 1}", firstOverLast[a]);
        result.Add("steps", steps);
        result.Add("batch size", Batch);

        var layerAxis = Enumerable.Range(1, Hidden + 1).Select(i => (double)i).ToArray();
        var (p1, f1) = context.PlotFile(this, "weight-grad");
        LabPlots.Lines(p1, $"Mean |dL/dW| per layer ({Hidden + 1} Linear layers, mean of {steps} steps)", "layer (1 = input side)", "mean |dL/dW| (log scale)",
            names.Select((n, a) => new LabSeries(n, layerAxis, weightGrad[a])).ToList(), new LabPlotOptions { LogY = true, IntegerX = true, Markers = true });
        result.Plots.Add(new LabPlot(f1, "Weight-gradient magnitude against depth: with sigmoid it falls by orders of magnitude towards the input; tanh and ReLU keep it."));
        var (p2, f2) = context.PlotFile(this, "preactivation-grad");
        LabPlots.Lines(p2, "Mean |dL/dz| per layer (z = Linear output, the pre-activation)", "layer (1 = input side)", "mean |dL/dz| (log scale)",
            names.Select((n, a) => new LabSeries(n, layerAxis, zGrad[a])).ToList(), new LabPlotOptions { LogY = true, IntegerX = true, Markers = true });
        result.Plots.Add(new LabPlot(f2, "The gradient reaching each layer's pre-activation."));
        var (p3, f3) = context.PlotFile(this, "sigmoid-factor");
        LabPlots.Lines(p3, "What each sigmoid does to the gradient: |dL/dz| / |dL/da|", "sigmoid layer (1 = input side)", "factor",
            [LabSeries.Steps("mean over elements (sum |dL/dz| / sum |dL/da|)", layerFactor), LabSeries.Steps("whole layer: |dL/dz| / next layer's |dL/dz|", sigmoidLayerShrink)],
            new LabPlotOptions { IntegerX = true, Markers = true, ReferenceLines = [("bound 1/4 = max sigma'(z)", 0.25)] });
        result.Plots.Add(new LabPlot(f3, "Every sigmoid multiplies the gradient by sigma'(z) <= 1/4; the weights after it cannot make up for it."));
        var (p4, f4) = context.PlotFile(this, "first-layer-steps");
        LabPlots.Lines(p4, "Mean |dL/dW| of the first layer over the first steps", "step", "mean |dL/dW| (log scale)",
            names.Select((n, a) => LabSeries.Steps(n, firstLayerBySteps[a])).ToList(), new LabPlotOptions { LogY = true, IntegerX = true, Markers = true });
        result.Plots.Add(new LabPlot(f4, "The first layer barely learns with sigmoid: its gradient stays orders of magnitude below the others'."));

        var rows = new List<IReadOnlyList<string>>();
        for (int l = 0; l <= Hidden; l++)
            rows.Add([(l + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), F(weightGrad[0][l]), F(weightGrad[1][l]), F(weightGrad[2][l]),
                F(zGrad[0][l]), l < Hidden ? F(layerFactor[l]) : "-"]);
        result.Tables.Add(new LabTable("Per layer: mean |dL/dW| per activation, the sigmoid network's mean |dL/dz| and its sigmoid's factor",
            ["layer", "|dL/dW| sigmoid", "|dL/dW| tanh", "|dL/dW| relu", "|dL/dz| sigmoid", "sigmoid factor"], rows));

        // float32 rounding of g * s * (1 - s) may land one ulp above g/4 when s is within 1e-4 of 1/2
        result.Check("every sigmoid shrinks the gradient by at least 4x", "|dL/dz| / |dL/da| <= 1/4 for every element",
            $"largest factor {F(maxFactor)}", maxFactor <= 0.25 * (1 + 1e-6));
        result.Check("vanishing gradients: sigmoid loses the most towards the input", "layer-1 / layer-10 |dL/dW| smallest for sigmoid",
            $"sigmoid {F(firstOverLast[0])}, tanh {F(firstOverLast[1])}, relu {F(firstOverLast[2])}",
            firstOverLast[0] < firstOverLast[1] && firstOverLast[0] < firstOverLast[2]);
        result.Findings.Add($"Every sigmoid multiplied the gradient by at most {F(maxFactor)} element by element (mean {F(layerFactor.Average())}), within the 1/4 bound; " +
            $"with the weights the gradient still shrank {F(1 / Math.Exp(sigmoidLayerShrink.Average(Math.Log)))}x per sigmoid layer.");
        result.Findings.Add($"So the first layer's weight gradient is {F(firstOverLast[0])} of the last layer's with sigmoid, against {F(firstOverLast[1])} with tanh and {F(firstOverLast[2])} with ReLU: the layers near the input of a deep sigmoid network barely learn.");
        return result;
    }

    /// <summary>Flatten, then <see cref="Hidden"/> x (Linear 64 -> activation), then Linear to 10; He-normal weights (std sqrt(2 / fan_in)), zero biases.</summary>
    private static Sequential Build(string activation, ulong seed)
    {
        var g = new Generator(seed);
        var net = new Sequential(new Flatten());
        int inputs = 28 * 28;
        for (int l = 0; l <= Hidden; l++)
        {
            int outputs = l == Hidden ? 10 : Width;
            var lin = new Linear(inputs, outputs, generator: g);
            var w = new float[outputs * inputs];
            double std = Math.Sqrt(2.0 / inputs);
            for (int i = 0; i < w.Length; i++) w[i] = (float)(g.NextNormal() * std);
            using (Tensor.NoGrad())
            {
                lin.Weight.Data.CopyFrom(Tensor.FromArray(w, outputs, inputs));
                lin.Bias!.Data.CopyFrom(Tensor.Zeros([outputs]));
            }
            net.Add(lin);
            if (l < Hidden)
                net.Add(activation switch { "sigmoid" => new Sigmoid(), "tanh" => new Tanh(), _ => new ReLU() });
            inputs = outputs;
        }
        return net;
    }
}
