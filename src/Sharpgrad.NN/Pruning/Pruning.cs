namespace Sharpgrad.NN;

/// <summary>How structured pruning measures a filter.</summary>
public enum FilterNorm
{
    /// <summary>Sum of absolute values.</summary>
    L1,

    /// <summary>Square root of the sum of squares.</summary>
    L2,
}

/// <summary>
/// Pruning by masks: a pruned weight is multiplied by a 0 in its <see cref="PruningMask"/>, a parameter constraint
/// that keeps it exactly zero through optimizer steps (its gradient is masked before and its value after every
/// update), and can be made permanent. Pruning to a fraction counts weights already at zero, so repeated or gradual pruning reaches the
/// fraction of the whole tensor.
/// </summary>
public static class Pruner
{
    /// <summary>
    /// The weights pruning applies to, by state_dict name: what each layer names in
    /// <see cref="Module.PrunableParameters"/> (the weights of Conv2d and Linear; biases and BatchNorm are left alone).
    /// </summary>
    public static IReadOnlyList<(string Name, Parameter Parameter)> PrunableWeights(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.NamedPrunableParameters();
    }

    /// <summary>The pruning mask of <paramref name="p"/> (1 kept, 0 pruned, same shape), or null when it is not pruned.</summary>
    public static Tensor? MaskOf(Parameter p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return p.Constraint<PruningMask>()?.Mask;
    }

    /// <summary>
    /// Sets <paramref name="p"/>'s pruning mask to <paramref name="mask"/> (1 kept, 0 pruned, p's shape), replacing
    /// any earlier one, and zeroes the pruned weights; null removes the mask.
    /// </summary>
    /// <exception cref="ArgumentException">The mask's shape is not the parameter's.</exception>
    public static void SetMask(Parameter p, Tensor? mask)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (p.Constraint<PruningMask>() is { } old) p.RemoveConstraint(old);
        if (mask is not null) p.AddConstraint(new PruningMask(mask.To(p.Data.DType), p.Shape));
    }

    private static void CheckFraction(double fraction, string op)
    {
        if (!(fraction >= 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), $"{op}: sparsity must be in [0, 1], got {fraction}.");
    }

    /// <summary>Number of weights to prune for <paramref name="fraction"/> of <paramref name="n"/> (rounded, as torch.nn.utils.prune).</summary>
    public static int CountFor(double fraction, int n) => (int)Math.Round(fraction * n, MidpointRounding.ToEven);

    /// <summary>Per-layer magnitude pruning: the <paramref name="fraction"/> of <paramref name="p"/>'s weights with the smallest |w| are masked.</summary>
    public static void Magnitude(Parameter p, double fraction)
    {
        ArgumentNullException.ThrowIfNull(p);
        CheckFraction(fraction, "Magnitude");
        var w = p.Data.ToDoubleArray();
        MaskOut(p, SmallestK(w.Select(Math.Abs).ToArray(), CountFor(fraction, w.Length)));
    }

    /// <summary>Masks every weight of <paramref name="p"/> with |w| below <paramref name="threshold"/>.</summary>
    public static void MagnitudeThreshold(Parameter p, double threshold)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (!(threshold >= 0)) throw new ArgumentOutOfRangeException(nameof(threshold), $"MagnitudeThreshold: threshold must be non-negative, got {threshold}.");
        var w = p.Data.ToDoubleArray();
        MaskOut(p, w.Select(v => Math.Abs(v) < threshold).ToArray());
    }

    /// <summary>
    /// Global magnitude pruning: one threshold across <paramref name="parameters"/>, masking the
    /// <paramref name="fraction"/> of all their weights with the smallest |w|; returns the threshold (the largest
    /// pruned magnitude).
    /// </summary>
    public static double Global(IReadOnlyList<Parameter> parameters, double fraction)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        CheckFraction(fraction, "Global");
        var all = parameters.SelectMany(p => p.Data.ToDoubleArray().Select(Math.Abs)).ToArray();
        var pruned = SmallestK(all, CountFor(fraction, all.Length));
        int offset = 0;
        double threshold = 0;
        foreach (var p in parameters)
        {
            var part = pruned.AsSpan(offset, p.NumElements).ToArray();
            for (int i = 0; i < part.Length; i++) if (part[i]) threshold = Math.Max(threshold, all[offset + i]);
            MaskOut(p, part);
            offset += p.NumElements;
        }
        return threshold;
    }

    /// <summary>
    /// Global pruning by LAMP scores (Lee et al., 2021): within a layer, a weight's score is w^2 divided by the sum of
    /// w'^2 over the layer's weights at least as large, so scores are comparable across layers; the
    /// <paramref name="fraction"/> of all weights with the lowest scores is masked.
    /// </summary>
    public static void Lamp(IReadOnlyList<Parameter> parameters, double fraction)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        CheckFraction(fraction, "Lamp");
        var scores = new List<double[]>();
        foreach (var p in parameters)
        {
            var sq = p.Data.ToDoubleArray().Select(v => v * v).ToArray();
            var order = Enumerable.Range(0, sq.Length).ToArray();
            Array.Sort(sq.ToArray(), order);
            var score = new double[sq.Length];
            double tail = 0;
            for (int r = order.Length - 1; r >= 0; r--)
            {
                tail += sq[order[r]];
                score[order[r]] = tail > 0 ? sq[order[r]] / tail : 0;
            }
            scores.Add(score);
        }
        GlobalByScore(parameters, scores, fraction);
    }

    /// <summary>
    /// Global pruning by given scores (one per weight, in each parameter's row-major order): the
    /// <paramref name="fraction"/> of all weights of <paramref name="parameters"/> with the lowest scores is masked.
    /// </summary>
    public static void GlobalByScore(IReadOnlyList<Parameter> parameters, IReadOnlyList<double[]> scores, double fraction)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(scores);
        CheckFraction(fraction, "GlobalByScore");
        if (scores.Count != parameters.Count) throw new ArgumentException($"GlobalByScore: {scores.Count} score arrays for {parameters.Count} parameters.");
        for (int i = 0; i < parameters.Count; i++)
        {
            if (scores[i].Length != parameters[i].NumElements)
                throw new ArgumentException($"GlobalByScore: parameter {i} has {parameters[i].NumElements} weights but {scores[i].Length} scores.");
        }
        var all = scores.SelectMany(v => v).ToArray();
        var pruned = SmallestK(all, CountFor(fraction, all.Length));
        int offset = 0;
        foreach (var p in parameters)
        {
            MaskOut(p, pruned.AsSpan(offset, p.NumElements).ToArray());
            offset += p.NumElements;
        }
    }

    /// <summary>
    /// Structured pruning of whole filters: the <paramref name="fraction"/> of <paramref name="conv"/>'s output
    /// filters with the smallest L1 or L2 norm are masked entirely (and their bias with them).
    /// </summary>
    public static int[] Filters(Conv2d conv, double fraction, FilterNorm norm = FilterNorm.L1)
    {
        ArgumentNullException.ThrowIfNull(conv);
        return Filters(conv.Weight, conv.Bias, fraction, norm);
    }

    /// <summary>
    /// Structured pruning of whole filters of any layer that has them: the <paramref name="fraction"/> of the slices
    /// along <paramref name="weight"/>'s first axis (its output channels) with the smallest L1 or L2 norm are masked
    /// entirely, and the matching entries of <paramref name="bias"/> with them. Returns the pruned filters' indices.
    /// </summary>
    public static int[] Filters(Parameter weight, Parameter? bias, double fraction, FilterNorm norm = FilterNorm.L1)
    {
        ArgumentNullException.ThrowIfNull(weight);
        CheckFraction(fraction, "Filters");
        int oc = weight.Shape[0], per = weight.NumElements / oc;
        if (bias is not null && bias.NumElements != oc)
            throw new ArgumentException($"Filters: the bias has {bias.NumElements} values for {oc} filters.", nameof(bias));
        var w = weight.Data.ToDoubleArray();
        var norms = Enumerable.Range(0, oc).Select(o =>
        {
            var f = w.AsSpan(o * per, per).ToArray();
            return norm == FilterNorm.L1 ? f.Sum(Math.Abs) : Math.Sqrt(f.Sum(v => v * v));
        }).ToArray();
        var prunedFilter = SmallestK(norms, CountFor(fraction, oc));
        var mask = new bool[w.Length];
        for (int o = 0; o < oc; o++)
            if (prunedFilter[o]) Array.Fill(mask, true, o * per, per);
        MaskOut(weight, mask);
        if (bias is not null) MaskOut(bias, prunedFilter);
        return Enumerable.Range(0, oc).Where(o => prunedFilter[o]).ToArray();
    }

    /// <summary>
    /// Random pruning, the baseline: weights chosen at random (among those not yet pruned) are masked until
    /// <paramref name="fraction"/> of the tensor is pruned.
    /// </summary>
    public static void Random(Parameter p, double fraction, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(generator);
        CheckFraction(fraction, "Random");
        var old = MaskOf(p)?.ToArray();
        var alive = Enumerable.Range(0, p.NumElements).Where(i => old is null || old[i] != 0).ToArray();
        generator.Shuffle<int>(alive);
        var mask = new bool[p.NumElements];
        int more = Math.Max(0, CountFor(fraction, p.NumElements) - (p.NumElements - alive.Length));
        foreach (int i in alive.Take(more)) mask[i] = true;
        MaskOut(p, mask);
    }

    /// <summary>Zeroes masked weights for good and removes the masks.</summary>
    public static void MakePermanent(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var p in model.Parameters())
        {
            p.Project();
            SetMask(p, null);
        }
    }

    /// <summary>Removes every mask without changing the weights.</summary>
    public static void RemoveMasks(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var p in model.Parameters()) SetMask(p, null);
    }

    /// <summary>Marks the k smallest values (stable: earlier indices first among ties).</summary>
    private static bool[] SmallestK(double[] values, int k)
    {
        var idx = Enumerable.Range(0, values.Length).ToArray();
        Array.Sort(values.ToArray(), idx);
        var r = new bool[values.Length];
        for (int i = 0; i < k; i++) r[idx[i]] = true;
        return r;
    }

    /// <summary>Sets a mask (true = pruned), keeping weights that an earlier mask pruned pruned, and zeroes them.</summary>
    private static void MaskOut(Parameter p, bool[] pruned)
    {
        var old = MaskOf(p)?.ToArray();
        var m = new float[pruned.Length];
        for (int i = 0; i < m.Length; i++) m[i] = pruned[i] || (old is not null && old[i] == 0) ? 0f : 1f;
        SetMask(p, Tensor.FromArray(m).Reshape(p.Shape));
    }
}

/// <summary>
/// Pruning's parameter constraint: a 0/1 mask of the parameter's shape; masked-out weights get a zero gradient and
/// are held at exactly zero after every update (torch.nn.utils.prune's weight_mask, enforced by the optimizer step
/// instead of a forward pre-hook).
/// </summary>
public sealed class PruningMask : IParameterConstraint
{
    /// <summary>Wraps <paramref name="mask"/>, which must have <paramref name="shape"/>.</summary>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public PruningMask(Tensor mask, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(mask);
        ArgumentNullException.ThrowIfNull(shape);
        if (!mask.Shape.SequenceEqual(shape))
            throw new ArgumentException($"PruningMask: the mask's shape [{string.Join(",", mask.Shape)}] is not the parameter's [{string.Join(",", shape)}].", nameof(mask));
        Mask = mask;
    }

    /// <summary>1 for kept weights, 0 for pruned ones.</summary>
    public Tensor Mask { get; }

    /// <inheritdoc/>
    public Tensor ConstrainGradient(Parameter parameter, Tensor grad) => grad.Mul(Mask);

    /// <inheritdoc/>
    public void Project(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        parameter.Data.CopyFrom(parameter.Data.Mul(Mask));
    }
}
