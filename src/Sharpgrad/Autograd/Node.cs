namespace Sharpgrad;

/// <summary>
/// One recorded op in the autograd graph: it holds the op's inputs and what its backward needs,
/// and maps the gradient of its output to gradients of its inputs.
/// </summary>
public abstract class Node
{
    private Tensor?[] _inputs;
    private Tensor?[] _saved;
    private int[] _savedVersions;

    /// <param name="inputs">The op's tensor inputs, in order; the gradients returned by <see cref="Backward"/> follow this order.</param>
    /// <param name="saved">Tensors the backward reads; dropped when the graph is released. Their versions are
    /// recorded now and checked before the backward runs (an in-place write in between would corrupt the gradient).</param>
    internal Node(Tensor?[] inputs, params Tensor?[] saved)
    {
        _inputs = inputs;
        _saved = saved;
        _savedVersions = saved.Length == 0 ? [] : new int[saved.Length];
        for (int i = 0; i < saved.Length; i++) _savedVersions[i] = saved[i]?.Version ?? 0;
    }

    /// <summary>
    /// Throws when a saved tensor was written in place after this node recorded it, naming the op, the tensor and
    /// both versions (PyTorch: "one of the variables needed for gradient computation has been modified by an
    /// inplace operation").
    /// </summary>
    internal void CheckSavedVersions()
    {
        for (int i = 0; i < _saved.Length; i++)
        {
            var t = _saved[i];
            if (t is null || t.Version == _savedVersions[i]) continue;
            throw new InvalidOperationException(
                $"{Name}: saved tensor {i} of shape {Shapes.Format(t.Dims)} was modified in place after the forward pass " +
                $"(version {t.Version}, expected {_savedVersions[i]}), so its gradient would be wrong; write into a copy " +
                "(Clone()), or run the forward pass again after the write (e.g. an optimizer step between a forward pass and its Backward).");
        }
    }

    /// <summary>The op's name, as in PyTorch's grad_fn (e.g. "MulBackward").</summary>
    public string Name => GetType().Name;

    /// <summary>Whether <see cref="Release"/> has dropped this node's inputs and saved tensors.</summary>
    public bool IsReleased { get; private set; }

    internal ReadOnlySpan<Tensor?> Inputs => _inputs;

    /// <summary>Gradient hooks of this node's output (see <see cref="Tensor.RegisterHook"/>), called before <see cref="Backward"/>.</summary>
    internal List<Action<Tensor>> Hooks => _hooks ??= [];

    private List<Action<Tensor>>? _hooks;

    internal void RunHooks(Tensor gradOutput)
    {
        if (_hooks is null) return;
        foreach (var h in _hooks.ToArray()) h(gradOutput);
    }

    /// <summary>The nodes this node's inputs came from (for walking the graph).</summary>
    public IEnumerable<Node> NextNodes
    {
        get
        {
            foreach (var t in _inputs)
                if (t?.GradFn is { } n) yield return n;
        }
    }

    /// <summary>Saved tensor <paramref name="i"/>.</summary>
    protected Tensor Saved(int i) => _saved[i] ?? throw new InvalidOperationException($"{Name}: saved tensor {i} is missing.");

    /// <summary>Gradients of the inputs given the gradient of the output; null where an input needs none.</summary>
    internal abstract Tensor?[] Backward(Tensor gradOutput);

    /// <summary>Whether input <paramref name="i"/> wants a gradient.</summary>
    protected bool NeedsInputGrad(int i) => _inputs[i]?.RequiresGrad == true;

    internal void Release()
    {
        _inputs = [];
        _saved = [];
        _savedVersions = [];
        IsReleased = true;
    }
}
