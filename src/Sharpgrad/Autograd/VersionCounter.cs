namespace Sharpgrad;

/// <summary>
/// Counts in-place writes to one storage array; every view of the storage holds the same counter, so a write through
/// any of them is seen by the backward nodes that saved another (as PyTorch's VariableVersion).
/// </summary>
internal sealed class VersionCounter
{
    /// <summary>Incremented by every in-place write.</summary>
    public int Value;

    /// <summary>Set by <see cref="Tensor.KeepKernelLayouts"/>: kernels may keep this storage's weights in their own layout.</summary>
    public bool KeepsLayouts;

    /// <summary>
    /// Set by <see cref="Tensor.Wrap(float[], int[])"/>: the caller's array, written behind the counter's back, so no
    /// kernel keeps a layout made from it (it would go stale).
    /// </summary>
    public bool External;
}
