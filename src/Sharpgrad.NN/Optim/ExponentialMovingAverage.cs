using System.Numerics;

namespace Sharpgrad.NN;

/// <summary>
/// An exponential moving average of a model's weights (Polyak averaging, as PyTorch's
/// <c>torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)</c> and
/// timm's <c>ModelEmaV2</c>): after every optimizer step <see cref="Update"/> moves each average towards the model's
/// current value, ema = decay * ema + (1 - decay) * w, computed as PyTorch's <c>torch.lerp(ema, w, 1 - decay)</c>:
/// ema + (1 - decay) * (w - ema). The first update copies the model, as AveragedModel's does (n_averaged = 0). With
/// <see cref="UseBuffers"/> the batch norms' running mean and variance are averaged the same way (evaluating the
/// averaged weights with statistics that fit them); without it every buffer is the model's own, copied at each
/// update. A batch norm's num_batches_tracked is a counter: it is always copied. <see cref="Apply"/> puts the
/// averages into the model for an evaluation or a save and gives the model back its own values afterwards.
/// <para>
/// With <see cref="Warmup"/> the decay of update n (0-based) is min(decay, (1 + n) / (10 + n)), TensorFlow's
/// <c>tf.train.ExponentialMovingAverage(decay, num_updates)</c>: early averages forget the first, poor weights
/// quickly; the full decay applies from n = (10 decay - 1) / (1 - decay) on (8,991 updates for 0.999).
/// </para>
/// </summary>
public sealed class ExponentialMovingAverage
{
    private readonly List<Entry> _entries = [];

    // one tensor of the model's state_dict, its running average, and whether it is averaged (else copied)
    private sealed record Entry(string Name, Tensor Live, Tensor Average, bool Averaged);

    /// <summary>Averages <paramref name="model"/>'s parameters (and, with <paramref name="useBuffers"/>, its floating-point running statistics).</summary>
    /// <param name="model">The model the optimizer trains.</param>
    /// <param name="decay">The weight of the old average at each update, in [0, 1): 0.999 averages over about the last 1,000 steps.</param>
    /// <param name="useBuffers">Average the batch norms' running statistics too (PyTorch's use_buffers=True); false copies them.</param>
    /// <param name="warmup">Use TensorFlow's num_updates warm-up: the decay of update n is min(decay, (1 + n) / (10 + n)).</param>
    /// <exception cref="ArgumentOutOfRangeException">A decay outside [0, 1).</exception>
    public ExponentialMovingAverage(Module model, double decay, bool useBuffers = true, bool warmup = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(decay >= 0 && decay < 1)) throw new ArgumentOutOfRangeException(nameof(decay), $"ExponentialMovingAverage: decay must be in [0, 1), got {decay}.");
        Model = model;
        Decay = decay;
        UseBuffers = useBuffers;
        Warmup = warmup;
        var counters = model.NamedModules().Select(m => m.Module).OfType<BatchNormBase>().Select(b => b.NumBatchesTracked).ToHashSet(ReferenceEqualityComparer.Instance);
        var parameters = model.Parameters().Select(p => p.Data).ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var (name, value) in model.StateDict())
        {
            bool averaged = parameters.Contains(value) || (useBuffers && !counters.Contains(value));
            _entries.Add(new Entry(name, value, value.Detach().Contiguous(force: true), averaged));
        }
    }

    /// <summary>The averaged model.</summary>
    public Module Model { get; }

    /// <summary>The decay given at construction.</summary>
    public double Decay { get; }

    /// <summary>Whether the running statistics are averaged (PyTorch's use_buffers) rather than copied.</summary>
    public bool UseBuffers { get; }

    /// <summary>Whether the decay warms up as TensorFlow's num_updates (see the class remarks).</summary>
    public bool Warmup { get; }

    /// <summary>The number of updates so far (AveragedModel's n_averaged).</summary>
    public long NumUpdates { get; private set; }

    /// <summary>The decay the next <see cref="Update"/> applies (0 for the first: it copies).</summary>
    public double CurrentDecay => NumUpdates == 0 ? 0 : Warmup ? Math.Min(Decay, (1.0 + NumUpdates) / (10.0 + NumUpdates)) : Decay;

    /// <summary>Moves every average towards the model's current value (call it after each optimizer step).</summary>
    public void Update()
    {
        double weight = 1 - CurrentDecay;
        foreach (var e in _entries)
        {
            if (!e.Averaged || NumUpdates == 0) Copy(e.Live, e.Average);
            else if (e.Average.DType == DType.Float32) Lerp(e.Average.AsSpan<float>(), e.Live.Contiguous().AsReadOnlySpan<float>(), (float)weight);
            else Lerp(e.Average.AsSpan<double>(), e.Live.Contiguous().AsReadOnlySpan<double>(), weight);
        }
        NumUpdates++;
    }

    // torch.lerp(a, w, t) for t < 0.5: a + t (w - a)
    private static void Lerp<T>(Span<T> average, ReadOnlySpan<T> live, T weight) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < average.Length; i++) average[i] += weight * (live[i] - average[i]);
    }

    private static void Copy(Tensor from, Tensor to)
    {
        if (to.DType == DType.Float32) from.Contiguous().AsReadOnlySpan<float>().CopyTo(to.AsSpan<float>());
        else from.Contiguous().AsReadOnlySpan<double>().CopyTo(to.AsSpan<double>());
    }

    /// <summary>The averages by the model's state_dict names, as fresh tensors (with the counters and, without <see cref="UseBuffers"/>, the buffers last copied).</summary>
    public IReadOnlyDictionary<string, Tensor> Averages() => _entries.ToDictionary(e => e.Name, e => e.Average.Contiguous(force: true));

    /// <summary>Writes the averages into <see cref="Model"/>'s parameters and buffers (for good: the model's own values are lost).</summary>
    public void CopyTo()
    {
        foreach (var e in _entries) Copy(e.Average, e.Live);
    }

    /// <summary>
    /// Puts the averages into <see cref="Model"/> until the result is disposed, which gives the model back the values
    /// it had (the <c>average_parameters()</c> context of the torch_ema package): <c>using (ema.Apply()) Evaluate(...)</c>.
    /// </summary>
    public IDisposable Apply()
    {
        var saved = _entries.Select(e => e.Live.Detach().Contiguous(force: true)).ToList();
        CopyTo();
        return new Restore(this, saved);
    }

    private sealed class Restore(ExponentialMovingAverage owner, List<Tensor> saved) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            for (int i = 0; i < saved.Count; i++) Copy(saved[i], owner._entries[i].Live);
        }
    }

    /// <summary>
    /// The state for a checkpoint, named as PyTorch's AveragedModel's state_dict: "module.NAME" for each of the
    /// model's state_dict tensors and "n_averaged" (a float64 scalar).
    /// </summary>
    public IReadOnlyList<(string Name, Tensor Value)> StateDict()
    {
        var list = _entries.Select(e => ("module." + e.Name, e.Average)).ToList();
        list.Add(("n_averaged", Tensor.Scalar(NumUpdates, DType.Float64)));
        return list;
    }

    /// <summary>Restores a state saved by <see cref="StateDict"/>: every name must be present, with its shape.</summary>
    /// <exception cref="ArgumentException">A missing, unexpected or misshapen tensor (one line naming it).</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var names = _entries.Select(e => "module." + e.Name).Append("n_averaged").ToHashSet(StringComparer.Ordinal);
        if (state.Keys.FirstOrDefault(k => !names.Contains(k)) is string extra)
            throw new ArgumentException($"ExponentialMovingAverage.LoadStateDict: unexpected tensor '{extra}' for this model.");
        if (names.FirstOrDefault(k => !state.ContainsKey(k)) is string missing)
            throw new ArgumentException($"ExponentialMovingAverage.LoadStateDict: tensor '{missing}' is missing.");
        var count = state["n_averaged"];
        if (count.NumElements != 1 || !(count.Item() >= 0) || count.Item() != Math.Floor(count.Item()))
            throw new ArgumentException($"ExponentialMovingAverage.LoadStateDict: 'n_averaged' must be one whole number >= 0.");
        foreach (var e in _entries)
        {
            var v = state["module." + e.Name];
            if (!v.Shape.SequenceEqual(e.Average.Shape))
                throw new ArgumentException($"ExponentialMovingAverage.LoadStateDict: 'module.{e.Name}' has shape [{string.Join(",", v.Shape)}], the model's has [{string.Join(",", e.Average.Shape)}].");
        }
        foreach (var e in _entries) Copy(state["module." + e.Name].To(e.Average.DType), e.Average);
        NumUpdates = (long)count.Item();
    }
}
