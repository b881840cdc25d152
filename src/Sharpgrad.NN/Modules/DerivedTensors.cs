namespace Sharpgrad.NN;

/// <summary>
/// Tensors computed from a layer's parameters and buffers (a batch norm's per-channel affine map, a convolution with
/// the norm folded into it), kept between evaluation calls and computed again when one of their sources is written
/// (its <see cref="Tensor.Version"/>: optimizer steps, loading a state dict, pruning and the running statistics of a
/// training step all count). The kept tensors are not pooled (they outlive every <see cref="TensorScope"/>) and are
/// marked with <see cref="Tensor.KeepKernelLayouts"/>, so the kernels keep their own layouts of them too.
/// Safe to call from several threads (each sees a complete set; two may compute it at once).
/// </summary>
internal sealed class DerivedTensors
{
    private sealed record Snapshot(Tensor[] Sources, int[] Versions, Tensor[] Values);

    private Snapshot? _last;

    /// <summary>
    /// The kept values for <paramref name="sources"/> as they are now, from <paramref name="compute"/> (run without
    /// gradients) when none are kept or a source was written since.
    /// </summary>
    public Tensor[] Get(Tensor[] sources, Func<Tensor[]> compute)
    {
        var last = Volatile.Read(ref _last);
        if (last is not null && Current(last, sources)) return last.Values;
        // versions read before computing: a write while computing leaves them older, so the next call computes again
        var versions = new int[sources.Length];
        for (int i = 0; i < sources.Length; i++) versions[i] = sources[i].Version;
        Tensor[] values;
        using (Tensor.NoGrad())
        {
            var computed = compute();
            values = new Tensor[computed.Length];
            for (int i = 0; i < computed.Length; i++) values[i] = TensorScope.Keep(computed[i]).KeepKernelLayouts();
        }
        Volatile.Write(ref _last, new Snapshot(sources, versions, values));
        return values;
    }

    private static bool Current(Snapshot s, Tensor[] sources)
    {
        if (s.Sources.Length != sources.Length) return false;
        for (int i = 0; i < sources.Length; i++)
            if (!ReferenceEquals(s.Sources[i], sources[i]) || s.Versions[i] != sources[i].Version) return false;
        return true;
    }
}
