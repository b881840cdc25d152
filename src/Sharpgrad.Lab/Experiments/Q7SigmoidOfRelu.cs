using Sharpgrad.NN;

namespace Sharpgrad.Lab;

/// <summary>
/// Q7: y_hat = sigma(ReLU(z)) classified with y_hat &gt;= 0.5. Two models with the same initial weights are trained
/// on the same two Fashion-MNIST classes with binary cross-entropy: z = Linear(x) followed by ReLU and sigmoid, and the
/// plain sigma(z). The test confusion matrices show that the first predicts the positive class for every image.
/// </summary>
public sealed class Q7SigmoidOfRelu : LabExperiment
{
    private const int Negative = 0, Positive = 1; // T-shirt/top, Trouser

    /// <inheritdoc/>
    public override int Number => 7;

    /// <inheritdoc/>
    public override string Title => "sigmoid after ReLU";

    /// <inheritdoc/>
    public override string Question => "y_hat = sigma(ReLU(z)), classify with y_hat >= 0.5. What happens?";

    /// <inheritdoc/>
    public override string Answer => "ReLU(z) >= 0, so sigma(ReLU(z)) >= 0.5: every example is predicted positive. The model can never predict the negative class.";

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new LabResult();
        var data = context.FashionMnist;
        int perClass = context.Quick ? 500 : 6000, testPerClass = context.Quick ? 500 : 1000, steps = context.Quick ? 40 : 200;
        const double lr = 0.1;
        var (x, y, _) = LabData.TwoClasses(data.Train, Negative, Positive, perClass);
        var (xTest, _, testLabels) = LabData.TwoClasses(data.Test, Negative, Positive, testPerClass);
        string neg = data.Train.ClassNames[Negative], pos = data.Train.ClassNames[Positive];
        string[] classes = [$"0 {neg}", $"1 {pos}"];

        var models = new[] { ("sigma(ReLU(z))", true), ("sigma(z)", false) };
        var losses = new List<LabSeries>();
        var histograms = new List<(string, IReadOnlyList<double>)>();
        var summary = new List<IReadOnlyList<string>>();
        int reluPositive = 0, total = testLabels.Length;
        double reluMin = 0;
        foreach (var (name, relu) in models)
        {
            context.Report($"q7: training {name}");
            var linear = new Linear(x.Size(1), 1, generator: new Generator(context.Seed));
            Tensor Predict(Tensor input) => relu ? linear.Call(input).Relu().Sigmoid() : linear.Call(input).Sigmoid();
            var sgd = new Sgd(linear.Parameters(), lr);
            var curve = new double[steps];
            for (int step = 0; step < steps; step++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                linear.ZeroGrad();
                var loss = Losses.BinaryCrossEntropy(Predict(x), y);
                loss.Backward();
                curve[step] = loss.Item();
                sgd.Step();
            }
            losses.Add(LabSeries.Steps(name, curve));
            Tensor yHat;
            using (Tensor.NoGrad()) yHat = Predict(xTest);
            var (accuracy, confusion, positive) = LabData.Classify(yHat, testLabels);
            var values = yHat.ToDoubleArray();
            histograms.Add((name, values));
            string slug = relu ? "relu" : "plain";
            var (path, file) = context.PlotFile(this, "confusion-" + slug);
            LabPlots.ConfusionMatrix(path, $"y_hat = {name}, predicted positive when y_hat >= 0.5", confusion, classes);
            result.Plots.Add(new LabPlot(file, $"Test confusion matrix of y_hat = {name} ({total:N0} test images, half of each class)."));
            result.Tables.Add(new LabTable($"Confusion matrix of {name} (rows: true class, columns: predicted)", ["true \\ predicted", classes[0], classes[1]],
                [[classes[0], confusion[0, 0].ToString(System.Globalization.CultureInfo.InvariantCulture), confusion[0, 1].ToString(System.Globalization.CultureInfo.InvariantCulture)],
                 [classes[1], confusion[1, 0].ToString(System.Globalization.CultureInfo.InvariantCulture), confusion[1, 1].ToString(System.Globalization.CultureInfo.InvariantCulture)]]));
            result.Add($"{name}: predicted positive (%)", 100.0 * positive / total);
            result.Add($"{name}: test accuracy (%)", accuracy * 100);
            result.Add($"{name}: smallest y_hat", values.Min());
            result.Add($"{name}: final training loss", curve[^1]);
            summary.Add([name, $"{100.0 * positive / total:F1}%", $"{accuracy * 100:F1}%", values.Min().ToString("F4", System.Globalization.CultureInfo.InvariantCulture)]);
            if (relu)
            {
                reluPositive = positive;
                reluMin = values.Min();
            }
            else
            {
                result.Check("sigma(z) predicts both classes (the comparison is fair)", "some negative predictions", $"{total - positive:N0} negative", positive < total);
            }
        }
        result.Tables.Add(new LabTable("Both models on the test images", ["model", "predicted positive", "accuracy", "smallest y_hat"], summary));
        result.Add("test images", total);
        result.Check("sigma(ReLU(z)) predicts every test image positive", "100% predicted positive", $"{100.0 * reluPositive / total:F1}% ({reluPositive:N0} of {total:N0})", reluPositive == total);
        result.Check("sigma(ReLU(z)) >= 0.5 for every test image", "smallest y_hat >= 0.5", reluMin.ToString("F6", System.Globalization.CultureInfo.InvariantCulture), reluMin >= 0.5);

        var (lp, lf) = context.PlotFile(this, "loss");
        LabPlots.Lines(lp, "Training loss of the two models (same data, same initial weights)", "gradient-descent step", "binary cross-entropy", losses, new LabPlotOptions { IntegerX = true });
        result.Plots.Add(new LabPlot(lf, "sigma(ReLU(z)) cannot go below 0.5, so its loss on the negative class stays at least ln 2 per image."));
        var (hp, hf) = context.PlotFile(this, "yhat");
        LabPlots.Histogram(hp, "y_hat on the test images", "y_hat (probability of the positive class)", histograms, 50);
        result.Plots.Add(new LabPlot(hf, "Distribution of y_hat: the sigma(ReLU(z)) model never goes below 0.5."));

        result.Findings.Add($"sigma(ReLU(z)) predicts \"{pos}\" for {100.0 * reluPositive / total:F1}% of the {total:N0} test images (its smallest y_hat is {reluMin:F4}): ReLU(z) >= 0 and sigma(0) = 0.5, so the negative class \"{neg}\" can never be predicted, however it is trained.");
        result.Findings.Add($"The plain sigma(z) model with the same weights at the start and the same data predicts both classes ({summary[1][1]} positive, {summary[1][2]} accuracy).");
        return result;
    }
}
