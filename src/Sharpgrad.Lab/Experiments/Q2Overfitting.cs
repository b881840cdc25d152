using Sharpgrad.NN;
using static Sharpgrad.Lab.ExperimentKit;

namespace Sharpgrad.Lab;

/// <summary>
/// Q2: an MLP trained on a small Fashion-MNIST subset until it overfits, plain and with each proposed remedy (data
/// augmentation, dropout, batch norm, RMSprop instead of SGD); train and validation accuracy per epoch and the final
/// gap between them.
/// </summary>
public sealed class Q2Overfitting : LabExperiment
{
    /// <inheritdoc/>
    public override int Number => 2;

    /// <inheritdoc/>
    public override string Title => "Overfitting remedies";

    /// <inheritdoc/>
    public override string Question => "Training error looks too good (overfitting). Which help: data augmentation, dropout, batch normalization, RMSprop?";

    /// <inheritdoc/>
    public override string Answer => "Data augmentation and dropout (batch norm regularizes only mildly; RMSprop is an optimizer, not a remedy).";

    private const int Width = 128;

    private static readonly string[] Runs = ["plain", "augmentation", "dropout", "batch norm", "RMSprop"];

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        int trainCount = context.Quick ? 500 : 1000, valCount = context.Quick ? 600 : 2000, epochs = context.Quick ? 15 : 30;
        var train = Sample(context.FashionMnist.Train, trainCount, context.Seed);
        var validation = Sample(context.FashionMnist.Test, valCount, context.Seed);
        var result = new LabResult();
        var trainAcc = new double[Runs.Length][];
        var valAcc = new double[Runs.Length][];
        var valLoss = new double[Runs.Length][];
        for (int r = 0; r < Runs.Length; r++)
        {
            var net = Build(Runs[r], context.Seed);
            Optimizer opt = Runs[r] == "RMSprop" ? new RmsProp(net.Parameters(), lr: 1e-3) : new Sgd(net.Parameters(), lr: 0.02, momentum: 0.9);
            ITransform[] transforms = Runs[r] == "augmentation" ? [new RandomCrop(2), new RandomHorizontalFlip()] : [];
            var loader = new DataLoader(train, 16, shuffle: true, seed: context.Seed, transforms: transforms);
            trainAcc[r] = new double[epochs];
            valAcc[r] = new double[epochs];
            valLoss[r] = new double[epochs];
            for (int e = 0; e < epochs; e++)
            {
                context.Cancellation.ThrowIfCancellationRequested();
                context.Report($"q2: {Runs[r]}, epoch {e + 1}/{epochs}");
                TrainingLoop.TrainEpoch(net, loader, opt, null, e, epochs);
                trainAcc[r][e] = Evaluate(net, train).Accuracy;
                var v = Evaluate(net, validation);
                valAcc[r][e] = v.Accuracy;
                valLoss[r][e] = v.Loss;
            }
        }
        // the gap over the last three epochs (one epoch's accuracies move by a point or two)
        int last = Math.Min(3, epochs);
        var gap = Enumerable.Range(0, Runs.Length).Select(r => trainAcc[r][^last..].Average() - valAcc[r][^last..].Average()).ToArray();
        for (int r = 0; r < Runs.Length; r++)
        {
            result.Add($"{Runs[r]}: final train accuracy", trainAcc[r][^1]);
            result.Add($"{Runs[r]}: final validation accuracy", valAcc[r][^1]);
            result.Add($"{Runs[r]}: final gap (train - validation accuracy, mean of the last {last} epochs)", gap[r]);
        }
        result.Add("training images", trainCount);
        result.Add("validation images", valCount);
        result.Add("epochs", epochs);

        var (p1, f1) = context.PlotFile(this, "curves");
        var series = new List<LabSeries>();
        for (int r = 0; r < Runs.Length; r++)
        {
            series.Add(LabSeries.Steps($"{Runs[r]} train", trainAcc[r]));
            series.Add(LabSeries.Steps($"{Runs[r]} validation", valAcc[r]));
        }
        LabPlots.Lines(p1, $"Train and validation accuracy ({trainCount} training images)", "epoch", "accuracy (fraction correct)", series, new LabPlotOptions { IntegerX = true, Width = 1000 });
        result.Plots.Add(new LabPlot(f1, "Train (clean training images, evaluation mode) and validation accuracy per epoch for each run."));
        var (p2, f2) = context.PlotFile(this, "gap");
        LabPlots.Lines(p2, "Train - validation accuracy per epoch", "epoch", "gap (train - validation accuracy, fraction)",
            Runs.Select((n, r) => LabSeries.Steps(n, trainAcc[r].Zip(valAcc[r], (t, v) => t - v).ToArray())).ToList(), new LabPlotOptions { IntegerX = true });
        result.Plots.Add(new LabPlot(f2, "The overfitting gap as training goes on: augmentation and dropout keep it smaller than the plain run."));
        var (p3, f3) = context.PlotFile(this, "final-gap");
        LabPlots.Bars(p3, $"Final train - validation accuracy gap (mean of the last {last} epochs)", "gap (fraction)", Runs, gap);
        result.Plots.Add(new LabPlot(f3, "The gap after the last epoch, per remedy."));
        result.Tables.Add(new LabTable($"After the last epoch (the gap: mean of the last {last} epochs)", ["run", "train accuracy", "validation accuracy", "gap", "validation loss"],
            Runs.Select((n, r) => (IReadOnlyList<string>)[n, Pct(trainAcc[r][^1]), Pct(valAcc[r][^1]), Pct(gap[r]), F(valLoss[r][^1])]).ToList()));

        result.Check("data augmentation reduces overfitting", "gap with augmentation < plain gap", $"{Pct(gap[1])} against {Pct(gap[0])}", gap[1] < gap[0]);
        result.Check("dropout reduces overfitting", "gap with dropout < plain gap", $"{Pct(gap[2])} against {Pct(gap[0])}", gap[2] < gap[0]);
        result.Findings.Add($"On {trainCount} images the plain network reaches {Pct(trainAcc[0][^1])} on its training images but {Pct(valAcc[0][^1])} on new ones " +
            $"(gap {Pct(gap[0])}, the mean over the last {last} epochs); augmentation cuts the gap to {Pct(gap[1])} and dropout to {Pct(gap[2])}.");
        result.Findings.Add($"A smaller gap is not by itself a better model: after the last epoch the validation accuracy is {Pct(valAcc[0][^1])} plain, " +
            $"{Pct(valAcc[1][^1])} with augmentation and {Pct(valAcc[2][^1])} with dropout, and the validation loss {F(valLoss[0][^1])}, {F(valLoss[1][^1])} and {F(valLoss[2][^1])}. " +
            "The remedies slow the fit of the training set, so in few epochs they may trail in accuracy; the validation loss shows how confident the wrong answers are.");
        result.Findings.Add($"Batch norm leaves a gap of {Pct(gap[3])} and RMSprop {Pct(gap[4])}, against {Pct(gap[0])} for the plain run: neither is a remedy for overfitting. " +
            "Batch norm mainly makes the training set fitted faster (its batch noise regularizes only mildly) and RMSprop is an optimizer: it changes how the training set is fitted, not what is learned from it.");
        return result;
    }

    /// <summary>Flatten -> Linear 128 -> [BN] -> ReLU -> [Dropout 0.5] -> Linear 128 -> [BN] -> ReLU -> [Dropout 0.5] -> Linear 10.</summary>
    private static Sequential Build(string run, ulong seed)
    {
        var g = new Generator(seed);
        var net = new Sequential(new Flatten());
        int inputs = 28 * 28;
        for (int l = 0; l < 2; l++)
        {
            net.Add(new Linear(inputs, Width, generator: g));
            if (run == "batch norm") net.Add(new BatchNorm1d(Width));
            net.Add(new ReLU());
            if (run == "dropout") net.Add(new Dropout(0.5, g));
            inputs = Width;
        }
        net.Add(new Linear(inputs, 10, generator: g));
        return net;
    }
}
