using Sharpgrad.NN;

namespace Sharpgrad.Lab;

/// <summary>
/// Q8: the step activation. Three networks are trained with SGD on the same Fashion-MNIST images from the same initial
/// weights: Linear -&gt; Step -&gt; Linear, the same with ReLU, and a perceptron whose output is the step (Linear -&gt;
/// Step, mean squared error). The step's gradient is exactly zero, so every weight before it stays bitwise what it
/// was, and the perceptron's loss never changes; with ReLU the first layer learns.
/// </summary>
public sealed class Q8StepActivation : LabExperiment
{
    private const int Hidden = 32;

    /// <inheritdoc/>
    public override int Number => 8;

    /// <inheritdoc/>
    public override string Title => "The step activation";

    /// <inheritdoc/>
    public override string Question => "Would you use the step activation f(x) = 1 if x >= 0 else 0?";

    /// <inheritdoc/>
    public override string Answer => "No: its derivative is 0 everywhere (undefined at 0), so backprop passes no gradient and the weights before it never learn.";

    private sealed class Net : Module
    {
        private readonly Linear _first, _second;
        private readonly Module _activation;

        public Net(int inputs, Module activation, ulong seed)
        {
            var g = new Generator(seed);
            _first = RegisterModule("0", new Linear(inputs, Hidden, generator: g));
            _activation = RegisterModule("1", activation);
            _second = RegisterModule("2", new Linear(Hidden, 10, generator: g));
        }

        public Linear First => _first;

        public override Tensor Forward(Tensor input) => _second.Call(_activation.Call(_first.Call(input)));
    }

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new LabResult();
        var data = context.FashionMnist.Train;
        int count = context.Quick ? 1000 : 6000, steps = context.Quick ? 30 : 200;
        const double lr = 0.1;
        var train = data.Take(count);
        var xs = new float[count * data.ExampleSize];
        for (int i = 0; i < count; i++) train.CopyExample(i, xs.AsSpan(i * data.ExampleSize, data.ExampleSize));
        var x = Tensor.FromArray(xs, count, data.ExampleSize);
        var labels = train.Labels;

        var curves = new List<LabSeries>();
        var moved = new List<LabSeries>();
        var changed = new Dictionary<string, long>();
        var maxGrad = new Dictionary<string, double>();
        var lastLoss = new Dictionary<string, double>();
        foreach (var (name, activation) in new (string, Func<Module>)[] { ("Step", () => new Step()), ("ReLU", () => new ReLU()) })
        {
            context.Report($"q8: training Linear -> {name} -> Linear");
            var net = new Net(data.ExampleSize, activation(), context.Seed);
            var w0 = net.First.Weight.Data.ToArray();
            var b0 = net.First.Bias!.Data.ToArray();
            var sgd = new Sgd(net.Parameters(), lr, momentum: 0.9);
            var curve = new double[steps];
            var distance = new double[steps];
            double gmax = 0;
            for (int step = 0; step < steps; step++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                net.ZeroGrad();
                var loss = Losses.CrossEntropy(net.Call(x), labels);
                loss.Backward();
                curve[step] = loss.Item();
                gmax = Math.Max(gmax, Math.Max(MaxAbs(net.First.Weight.Grad), MaxAbs(net.First.Bias.Grad)));
                sgd.Step();
                distance[step] = MeanAbsChange(w0, net.First.Weight.Data.ToArray());
            }
            changed[name] = CountBitwiseChanged(w0, net.First.Weight.Data.ToArray()) + CountBitwiseChanged(b0, net.First.Bias.Data.ToArray());
            maxGrad[name] = gmax;
            lastLoss[name] = curve[^1];
            curves.Add(LabSeries.Steps($"Linear -> {name} -> Linear", curve));
            moved.Add(LabSeries.Steps($"Linear -> {name} -> Linear", distance));
            int firstCount = net.First.Weight.NumElements + net.First.Bias.NumElements;
            result.Add($"{name}: first-layer weights and biases", firstCount);
            result.Add($"{name}: first-layer values that changed bitwise", changed[name]);
            result.Add($"{name}: largest |gradient| reaching the first layer", gmax);
            result.Add($"{name}: first training loss", curve[0]);
            result.Add($"{name}: last training loss", curve[^1]);
        }

        // a perceptron whose prediction is the step itself: no weight gets a gradient, so the loss cannot move
        context.Report("q8: training the perceptron Linear -> Step");
        var perceptron = new Linear(data.ExampleSize, 1, generator: new Generator(context.Seed));
        var target = Tensor.FromArray(labels.Select(l => l >= 5 ? 1f : 0f).ToArray(), count, 1); // footwear and bags (5-9) against clothes
        var psgd = new Sgd(perceptron.Parameters(), lr, momentum: 0.9);
        var pw0 = perceptron.Weight.Data.ToArray();
        var pcurve = new double[steps];
        long lossBits = 0;
        bool lossConstant = true;
        for (int step = 0; step < steps; step++)
        {
            perceptron.ZeroGrad();
            var loss = Losses.Mse(perceptron.Call(x).Step(), target);
            loss.Backward();
            pcurve[step] = loss.Item();
            long bits = BitConverter.DoubleToInt64Bits(pcurve[step]);
            if (step == 0) lossBits = bits;
            else lossConstant &= bits == lossBits;
            psgd.Step();
        }
        long pChanged = CountBitwiseChanged(pw0, perceptron.Weight.Data.ToArray());
        result.Add("perceptron Linear -> Step: loss at the first step", pcurve[0]);
        result.Add("perceptron Linear -> Step: loss at the last step", pcurve[^1]);
        result.Add("perceptron Linear -> Step: weights that changed bitwise", pChanged);
        result.Add("training images", count);
        result.Add("SGD steps (full batch, momentum 0.9)", steps);

        result.Check("Step: every weight and bias before the step bitwise unchanged", "0 changed", $"{changed["Step"]:N0} changed after {steps} steps", changed["Step"] == 0);
        result.Check("Step: the gradient reaching the first layer", "exactly 0", LabData.G(maxGrad["Step"]), maxGrad["Step"] == 0);
        result.Check("Perceptron Linear -> Step: loss bitwise constant over the steps", $"{pcurve[0]:R} at every step", lossConstant ? "constant" : $"changed: {pcurve[0]:R} -> {pcurve[^1]:R}", lossConstant && pChanged == 0);
        result.Check("ReLU: the first layer learns (same data, same start)", "changed > 0", $"{changed["ReLU"]:N0} changed", changed["ReLU"] > 0);

        curves.Add(LabSeries.Steps("perceptron Linear -> Step (MSE)", pcurve));
        var (p1, f1) = context.PlotFile(this, "loss");
        LabPlots.Lines(p1, "Training loss with the step activation and with ReLU", "SGD step", "loss (cross-entropy; MSE for the perceptron)", curves, new LabPlotOptions { IntegerX = true });
        result.Plots.Add(new LabPlot(f1, "The Step network learns only in its last layer, on fixed random features; the perceptron whose output is the step does not move at all."));
        var (p2, f2) = context.PlotFile(this, "first-layer");
        LabPlots.Lines(p2, "How far the weights before the activation moved", "SGD step", "mean |W - W at the start|", moved, new LabPlotOptions { IntegerX = true });
        result.Plots.Add(new LabPlot(f2, "Mean absolute change of the first layer's weights from their initial values: exactly 0 at every step with Step."));

        result.Findings.Add($"With the step activation, the gradient that reaches the first layer is exactly {LabData.G(maxGrad["Step"])}, and after {steps} SGD steps {changed["Step"]:N0} of its {data.ExampleSize * Hidden + Hidden:N0} weights and biases differ from their initial bits; with ReLU, from the same start, {changed["ReLU"]:N0} changed and the loss fell to {lastLoss["ReLU"]:F3} against {lastLoss["Step"]:F3}.");
        result.Findings.Add($"A perceptron whose output is the step keeps the loss at {pcurve[0]:F4}, bit for bit, over all {steps} steps: nothing before a step activation can learn by backpropagation.");
        return result;
    }

    // no gradient at all (null) counts as 0
    private static double MaxAbs(Tensor? grad) => grad is null ? 0 : grad.Abs().Max().Item();

    private static long CountBitwiseChanged(float[] before, float[] after)
    {
        long n = 0;
        for (int i = 0; i < before.Length; i++)
            if (BitConverter.SingleToInt32Bits(before[i]) != BitConverter.SingleToInt32Bits(after[i])) n++;
        return n;
    }

    private static double MeanAbsChange(float[] before, float[] after)
    {
        double s = 0;
        for (int i = 0; i < before.Length; i++) s += Math.Abs((double)after[i] - before[i]);
        return s / before.Length;
    }
}
