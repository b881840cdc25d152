using System.Globalization;
using Sharpgrad.NN;
using static Sharpgrad.Lab.ExperimentKit;

namespace Sharpgrad.Lab;

/// <summary>
/// Q9: the exam CNN against an MLP of about its parameter count and the library's larger MLP, trained alike on the same
/// Fashion-MNIST images: parameter counts, test accuracy, and accuracy on test images shifted by 1 to 4 pixels
/// (averaged over the four directions, zero fill).
/// </summary>
public sealed class Q9ConvolutionVsDense : LabExperiment
{
    /// <inheritdoc/>
    public override int Number => 9;

    /// <inheritdoc/>
    public override string Title => "Convolution against fully connected";

    /// <inheritdoc/>
    public override string Question => "Two reasons to use convolutional rather than fully connected layers for images.";

    /// <inheritdoc/>
    public override string Answer => "Parameter sharing (far fewer parameters) and local connectivity that keeps spatial structure, giving translation equivariance.";

    private static readonly int[] Shifts = [0, 1, 2, 3, 4];

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int trainCount = context.Quick ? 3000 : 12000, epochs = context.Quick ? 2 : 3;
        var train = Sample(context.FashionMnist.Train, trainCount, context.Seed);
        var test = Sample(context.FashionMnist.Test, context.Quick ? 1000 : 3000, context.Seed);
        var shifted = Shifts.Select(k => Shifted(test, k)).ToArray();
        var loader = new DataLoader(train, 32, shuffle: true, seed: context.Seed);
        var result = new LabResult();

        int smallHidden = 13; // 784*13 + 13 + 13*10 + 10 = 10345, about the CNN's 10362
        var names = new[] { "exam CNN", $"MLP 784-{smallHidden}-10 (about as many parameters)", "MLP 784-256-10 (the library's mlp)" };
        Func<Generator, Module>[] builders =
        [
            g => Models.Create("exam-cnn", 1, 28, 28, 10, generator: g),
            g => Models.Mlp(28 * 28, [smallHidden], 10, generator: g),
            g => Models.Mlp(28 * 28, [256], 10, generator: g),
        ];
        var parameters = new long[names.Length];
        double equivariance = double.NaN;
        var accuracy = new double[names.Length][];
        for (int m = 0; m < names.Length; m++)
        {
            var model = builders[m](new Generator(context.Seed)).Fuse();
            parameters[m] = model.ParameterCount();
            var opt = new Adam(model.Parameters(), lr: 2e-3);
            for (int e = 0; e < epochs; e++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                context.Report($"q9: {names[m]}, epoch {e + 1}/{epochs}");
                TrainingLoop.TrainEpoch(model, loader, opt, null, e, epochs);
            }
            accuracy[m] = shifted.Select(set => set.Average(d => Evaluate(model, d).Accuracy)).ToArray();
            if (m == 0) equivariance = EquivarianceError(model, test, shifted[2][0], 2);
        }
        // accuracy lost to a shift: clean minus the mean over shifts of 1..4 pixels
        var drop = accuracy.Select(a => a[0] - a[1..].Average()).ToArray();
        for (int m = 0; m < names.Length; m++)
        {
            result.Add($"{names[m]}: parameters", parameters[m]);
            for (int k = 0; k < Shifts.Length; k++)
                result.Add($"{names[m]}: test accuracy, shifted {Shifts[k]} px", accuracy[m][k]);
            result.Add($"{names[m]}: accuracy lost to 1-4 px shifts (mean)", drop[m]);
        }
        result.Add("exam CNN: first conv, max |conv(shift x) - shift(conv x)| / max |conv x| away from the border (2 px shift)", equivariance);
        result.Add("training images", trainCount);
        result.Add("epochs", epochs);

        var (p1, f1) = context.PlotFile(this, "shift");
        LabPlots.Lines(p1, "Test accuracy on images shifted by k pixels (mean of right, left, down, up; zero fill)", "shift (pixels)", "test accuracy (fraction correct)",
            names.Select((n, m) => new LabSeries(n, Shifts.Select(k => (double)k).ToArray(), accuracy[m])).ToList(),
            new LabPlotOptions { IntegerX = true, Markers = true });
        result.Plots.Add(new LabPlot(f1, "Convolution and pooling keep the CNN's accuracy as the image moves; the MLPs' weights are tied to pixel positions."));
        var (p2, f2) = context.PlotFile(this, "parameters");
        LabPlots.Bars(p2, "Trainable parameters (log scale)", "parameters", names.Select(n => n.Split(" (")[0]).ToArray(), parameters.Select(p => (double)p).ToArray(),
            new LabPlotOptions { LogY = true });
        result.Plots.Add(new LabPlot(f2, "Parameter sharing: the CNN's 3x3 filters are reused at every position."));
        result.Tables.Add(new LabTable("Parameters and test accuracy", ["model", "parameters", .. Shifts.Select(k => k == 0 ? "unshifted" : $"shift {k} px"), "lost to shifts"],
            names.Select((n, m) => (IReadOnlyList<string>)[n, N(parameters[m]), .. accuracy[m].Select(Pct), Pct(drop[m])]).ToList()));

        string cnnAcc = Pct(accuracy[0][0]);
        result.Check("parameter sharing: the CNN needs fewer parameters", "CNN beats the MLP of about its size; the MLP that comes close has far more parameters",
            $"CNN {cnnAcc} with {N(parameters[0])}; MLP {Pct(accuracy[1][0])} with {N(parameters[1])}, {Pct(accuracy[2][0])} with {N(parameters[2])}",
            accuracy[0][0] > accuracy[1][0] && parameters[2] > 10 * parameters[0]);
        result.Check("translation equivariance of the convolution", "conv(shift x) = shift(conv x) away from the border (relative error < 1e-5)",
            $"relative error {F(equivariance)}", equivariance < 1e-5);
        result.Check("translation: the CNN loses less accuracy under shifts", "CNN's loss under 1-4 px shifts < that of the MLP of near its accuracy",
            $"CNN {Pct(drop[0])}, MLP 784-256-10 {Pct(drop[2])} (MLP 784-{smallHidden}-10: {Pct(drop[1])})", drop[0] < drop[2]);
        result.Findings.Add($"The exam CNN reaches {cnnAcc} with {N(parameters[0])} parameters; an MLP of about the same size reaches {Pct(accuracy[1][0])} and the library's MLP {Pct(accuracy[2][0])} with {N(parameters[2])}: " +
            "convolution shares each filter across the image.");
        result.Findings.Add($"Its convolution is translation equivariant: shifting the image shifts the feature maps (relative error {F(equivariance)} away from the border). " +
            $"Shifted by 1-4 pixels the CNN loses {Pct(drop[0])} accuracy on average, the large MLP {Pct(drop[2])} (the small one {Pct(drop[1])}); the CNN's last layer is fully connected, so it is not fully shift invariant either.");
        return result;
    }

    /// <summary>
    /// How far the model's first convolution is from translation equivariance: its output for images shifted
    /// <paramref name="k"/> pixels right against its output for the originals moved <paramref name="k"/> pixels right,
    /// over the columns whose 3x3 window lies inside the image both times; the largest difference over the largest |output|.
    /// </summary>
    private static double EquivarianceError(Module model, ImageDataset original, ImageDataset shiftedRight, int k)
    {
        var conv = model.NamedModules().Select(m => m.Module).OfType<Conv2d>().First();
        int n = Math.Min(200, original.Count);
        var a = new DataLoader(original, n).Epoch(0).First().Images;
        var b = new DataLoader(shiftedRight, n).Epoch(0).First().Images;
        using var noGrad = Tensor.NoGrad();
        var ya = conv.Call(a);
        var yb = conv.Call(b);
        int c = ya.Size(1), h = ya.Size(2), w = ya.Size(3);
        var va = ya.ToArray();
        var vb = yb.ToArray();
        double maxDiff = 0, maxAbs = 0;
        for (int i = 0; i < n * c; i++)
            for (int y = 0; y < h; y++)
                for (int x = k + 1; x < w - 1; x++)
                {
                    double shiftedThenConv = vb[(i * h + y) * w + x], convThenShifted = va[(i * h + y) * w + x - k];
                    maxDiff = Math.Max(maxDiff, Math.Abs(shiftedThenConv - convThenShifted));
                    maxAbs = Math.Max(maxAbs, Math.Abs(convThenShifted));
                }
        return maxDiff / maxAbs;
    }

    /// <summary>The test images shifted by <paramref name="k"/> pixels right, left, down and up (four sets; one unchanged set for k = 0), zeros shifted in.</summary>
    private static ImageDataset[] Shifted(ImageDataset data, int k)
    {
        if (k == 0) return [data];
        (int Dy, int Dx)[] directions = [(0, k), (0, -k), (k, 0), (-k, 0)];
        int h = data.Height, w = data.Width, size = data.ImageSize;
        return directions.Select(d =>
        {
            var px = new byte[data.Pixels.Length];
            for (int i = 0; i < data.Count; i++)
                for (int c = 0; c < data.Channels; c++)
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++)
                        {
                            int sy = y - d.Dy, sx = x - d.Dx;
                            if ((uint)sy < (uint)h && (uint)sx < (uint)w)
                                px[i * size + (c * h + y) * w + x] = data.Pixels[i * size + (c * h + sy) * w + sx];
                        }
            return new ImageDataset(px, data.Labels, data.Channels, h, w, data.ClassNames,
                $"{data.Source} shifted ({d.Dy.ToString(CultureInfo.InvariantCulture)}, {d.Dx.ToString(CultureInfo.InvariantCulture)})");
        }).ToArray();
    }
}
