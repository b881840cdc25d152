namespace Sharpgrad.NN;

/// <summary>What one epoch measured.</summary>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double TestLoss, double TestAccuracy, double Seconds, double Lr);

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

/// <summary>Training stopped because the loss became NaN or infinite.</summary>
public sealed class DivergedException(string message) : Exception(message)
{
    /// <summary>Creates the exception.</summary>
    public DivergedException() : this("training diverged") { }

    /// <summary>Creates the exception with its cause.</summary>
    public DivergedException(string message, Exception inner) : this(message + " " + inner?.Message) { }
}
