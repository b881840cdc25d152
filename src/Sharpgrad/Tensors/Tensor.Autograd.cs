
namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Backpropagates from this tensor: gradients are accumulated (added) into <see cref="Grad"/> of every leaf
    /// that requires grad. <paramref name="gradient"/> may be omitted only for a one-element tensor.
    /// The graph is released afterwards unless <paramref name="retainGraph"/> is true.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Engine.Backward(this, gradient, retainGraph);

    /// <summary>Disables graph recording on this thread until the scope is disposed.</summary>
    public static GradMode.NoGradScope NoGrad() => GradMode.NoGrad();
}

public sealed partial class Tensor
{
    private List<Action<Tensor>>? _leafHooks;

    /// <summary>
    /// Registers <paramref name="hook"/> to be called with the gradient of the loss with respect to this tensor
    /// (same shape) each time a <see cref="Backward(Tensor?, bool)"/> computes it (PyTorch's
    /// <c>Tensor.register_hook</c>, for hooks that observe and return nothing). For a computed tensor the gradient
    /// passed is the total over every use of the tensor, before it flows on to the op's inputs; for a leaf it is the
    /// gradient about to be accumulated into <see cref="Grad"/>. The hook runs under no-grad and must not write into
    /// the gradient. Dispose the returned handle to remove the hook.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor does not require grad.</exception>
    public IDisposable RegisterHook(Action<Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        if (!RequiresGrad)
            throw new InvalidOperationException($"RegisterHook: this tensor of shape {Shapes.Format(Dims)} does not require grad, so no gradient will reach it.");
        var list = GradFn is { } node ? node.Hooks : (_leafHooks ??= []);
        list.Add(hook);
        return new HookHandle(list, hook);
    }

    /// <summary>
    /// Makes <see cref="Backward(Tensor?, bool)"/> store this computed tensor's gradient in <see cref="Grad"/>, adding
    /// to what is there, as for a leaf (PyTorch's <c>Tensor.retain_grad</c>). No-op for a leaf.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor does not require grad.</exception>
    public void RetainGrad()
    {
        if (IsLeaf)
        {
            if (!RequiresGrad) throw new InvalidOperationException($"RetainGrad: this leaf of shape {Shapes.Format(Dims)} does not require grad.");
            return;
        }
        if (_retainsGrad) return;
        _retainsGrad = true;
        RegisterHook(g => Grad = Grad is null ? g.Contiguous(force: true) : Grad.Add(g));
    }

    private bool _retainsGrad;

    /// <summary>Whether <see cref="RetainGrad"/> was called on this computed tensor (always true for a leaf that requires grad).</summary>
    public bool RetainsGrad => IsLeaf ? RequiresGrad : _retainsGrad;

    internal void RunLeafHooks(Tensor gradient)
    {
        if (_leafHooks is null) return;
        foreach (var h in _leafHooks.ToArray()) h(gradient);
    }

    private sealed class HookHandle(List<Action<Tensor>> list, Action<Tensor> hook) : IDisposable
    {
        public void Dispose() => list.Remove(hook);
    }
}
