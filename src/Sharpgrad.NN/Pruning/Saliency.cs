
namespace Sharpgrad.NN;

/// <summary>
/// Second-order saliency of weights (Optimal Brain Damage, LeCun et al. 1990): removing w_i raises the loss by about
/// 1/2 H_ii w_i^2; the Hessian's diagonal is estimated by the empirical Fisher, the mean of squared gradients.
/// </summary>
public static class Saliency
{
    /// <summary>
    /// OBD scores w^2 E[g^2] of each of <paramref name="parameters"/>, with E[g^2] the mean over
    /// <paramref name="batches"/> batches of <paramref name="loader"/> (epoch <paramref name="epoch"/> of its shuffle)
    /// of the squared cross-entropy gradient. The model is run in evaluation mode (batch norm's running statistics are
    /// used and left unchanged) and its previous mode is restored.
    /// </summary>
    public static double[][] Obd(Module model, IReadOnlyList<Parameter> parameters, DataLoader loader, int batches, int epoch = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(loader);
        if (batches < 1) throw new ArgumentOutOfRangeException(nameof(batches), $"Saliency.Obd: expected a positive number of batches, got {batches}.");
        var fisher = parameters.Select(p => new double[p.NumElements]).ToArray();
        bool training = model.Training;
        model.Eval();
        int seen = 0;
        try
        {
            foreach (var batch in loader.Epoch(epoch))
            {
                if (seen == batches) break;
                seen++;
                foreach (var p in parameters) p.Grad = null;
                Losses.CrossEntropy(model.Forward(batch.Images), batch.Labels).Backward();
                for (int i = 0; i < parameters.Count; i++)
                {
                    var g = parameters[i].Grad?.ToDoubleArray();
                    if (g is null) continue;
                    for (int j = 0; j < g.Length; j++) fisher[i][j] += g[j] * g[j];
                }
            }
        }
        finally
        {
            foreach (var p in parameters) p.Grad = null;
            if (training) model.Train();
        }
        var scores = new double[parameters.Count][];
        for (int i = 0; i < parameters.Count; i++)
        {
            var w = parameters[i].Data.ToDoubleArray();
            scores[i] = new double[w.Length];
            for (int j = 0; j < w.Length; j++) scores[i][j] = w[j] * w[j] * fisher[i][j] / Math.Max(1, seen);
        }
        return scores;
    }
}
