using System.Globalization;
using System.Text;

namespace Sharpgrad.NN;

/// <summary>What one epoch measured.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy, double Seconds, double Lr)
{
    /// <summary>A metrics.csv: a header, then one line per epoch (losses, accuracies and lr round-trip exactly; seconds to 1 ms).</summary>
    public static string Csv(IReadOnlyList<EpochMetrics> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        var sb = new StringBuilder("epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,lr\n");
        foreach (var m in metrics)
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{m.Epoch},{m.TrainLoss:R},{m.TrainAccuracy:R},{m.TestLoss:R},{m.TestAccuracy:R},{m.Seconds:F3},{m.Lr:R}"));
        return sb.ToString();
    }
}

/// <summary>Loss, accuracy and confusion matrix (rows: true class, columns: predicted) on a dataset.</summary>
public sealed record Evaluation(double Loss, double Accuracy, int[,] Confusion)
{
    /// <summary>Accuracy per true class.</summary>
    public double[] PerClassAccuracy()
    {
        int k = Confusion.GetLength(0);
        var r = new double[k];
        for (int i = 0; i < k; i++)
        {
            int total = 0;
            for (int j = 0; j < k; j++) total += Confusion[i, j];
            r[i] = total == 0 ? double.NaN : (double)Confusion[i, i] / total;
        }
        return r;
    }
}

/// <summary>Receives training progress; the CLI draws it as a progress bar or plain lines.</summary>
public interface ITrainingObserver
{
    /// <summary>An epoch begins.</summary>
    void EpochStarted(int epoch, int epochs, int steps);

    /// <summary>A training step ended; loss and accuracy are running means over the epoch so far.</summary>
    void StepCompleted(int epoch, int step, int steps, double loss, double accuracy, double imagesPerSecond);

    /// <summary>An epoch ended and was evaluated.</summary>
    void EpochCompleted(EpochMetrics metrics);
}

/// <summary>
/// Training stopped because the loss became NaN or infinite. The message may name options (the learning rate to lower):
/// <see cref="IOptionMessage.Render"/> names them in a front end's terms.
/// </summary>
public sealed class DivergedException : Exception, IOptionMessage
{
    private readonly string _template;
    private readonly string[] _options;

    /// <summary>Creates the exception.</summary>
    public DivergedException() : this("training diverged") { }

    /// <summary>Creates the exception with a message that names no option.</summary>
    public DivergedException(string message) : this(OptionException.Escape(message ?? ""), []) { }

    /// <summary>Creates the exception with its cause.</summary>
    public DivergedException(string message, Exception inner) : this(message + " " + inner?.Message) { }

    /// <summary>A message whose composite-format placeholders ({0}, ...) stand for <paramref name="options"/>.</summary>
    internal DivergedException(string template, string[] options) : base(OptionException.Fill(template, options, o => o))
    {
        _template = template;
        _options = options;
    }

    /// <inheritdoc/>
    public IReadOnlyList<string> Options => _options;

    /// <inheritdoc/>
    public string Render(Func<string, string> optionName) => OptionException.Fill(_template, _options, optionName);
}
