namespace Sharpgrad.Autograd;

/// <summary>
/// One recorded op in the autograd graph: it holds the op's inputs and what its backward needs,
/// and maps the gradient of its output to gradients of its inputs.
/// </summary>
public abstract class Node
{
    private Tensor?[] _inputs;
    private Tensor?[] _saved;

    /// <param name="inputs">The op's tensor inputs, in order; the gradients returned by <see cref="Backward"/> follow this order.</param>
    /// <param name="saved">Tensors the backward reads; dropped when the graph is released.</param>
    internal Node(Tensor?[] inputs, params Tensor?[] saved)
    {
        _inputs = inputs;
        _saved = saved;
    }

    /// <summary>The op's name, as in PyTorch's grad_fn (e.g. "MulBackward").</summary>
    public string Name => GetType().Name;

    /// <summary>Whether <see cref="Release"/> has dropped this node's inputs and saved tensors.</summary>
    public bool IsReleased { get; private set; }

    internal ReadOnlySpan<Tensor?> Inputs => _inputs;

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
        IsReleased = true;
    }
}
