namespace Sharpgrad.NN;

/// <summary>
/// A trainable tensor of a <see cref="Module"/>: a leaf that requires grad, with optional constraints
/// (<see cref="IParameterConstraint"/>) that every optimizer step respects.
/// </summary>
public sealed class Parameter
{
    /// <summary>Wraps <paramref name="data"/> (which is made a leaf that requires grad).</summary>
    public Parameter(Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.IsLeaf) data = data.Detach();
        // the optimizers update the values in place through one contiguous span
        if (!data.IsContiguous) data = data.Contiguous().Detach();
        data.RequiresGrad = true;
        Data = data;
    }

    /// <summary>The values; update them in place (the optimizers do) so that every holder sees the change.</summary>
    public Tensor Data { get; }

    /// <summary>The accumulated gradient, or null.</summary>
    public Tensor? Grad
    {
        get => Data.Grad;
        set => Data.Grad = value;
    }

    private List<IParameterConstraint>? _constraints;

    /// <summary>The constraints on this parameter, in the order they apply (e.g. a pruning mask).</summary>
    public IReadOnlyList<IParameterConstraint> Constraints => (IReadOnlyList<IParameterConstraint>?)_constraints ?? [];

    /// <summary>Adds <paramref name="constraint"/> and projects the values onto it at once.</summary>
    public void AddConstraint(IParameterConstraint constraint)
    {
        ArgumentNullException.ThrowIfNull(constraint);
        (_constraints ??= []).Add(constraint);
        using var _ = Tensor.NoGrad();
        constraint.Project(this);
    }

    /// <summary>Removes <paramref name="constraint"/> (the values stay as they are); false if it was not there.</summary>
    public bool RemoveConstraint(IParameterConstraint constraint) => _constraints?.Remove(constraint) ?? false;

    /// <summary>The first constraint of type <typeparamref name="T"/>, or null.</summary>
    public T? Constraint<T>() where T : class, IParameterConstraint => _constraints?.OfType<T>().FirstOrDefault();

    /// <summary>The gradient an update should use: <paramref name="grad"/> passed through every constraint (optimizers call this).</summary>
    public Tensor ConstrainGradient(Tensor grad)
    {
        ArgumentNullException.ThrowIfNull(grad);
        if (_constraints is null) return grad;
        using var _ = Tensor.NoGrad();
        foreach (var c in _constraints) grad = c.ConstrainGradient(this, grad);
        return grad;
    }

    /// <summary>Projects the values back onto every constraint (optimizers call this after each update).</summary>
    public void Project()
    {
        if (_constraints is null) return;
        using var _ = Tensor.NoGrad();
        foreach (var c in _constraints) c.Project(this);
    }

    /// <summary>Shape of the values.</summary>
    public int[] Shape => Data.Shape;

    /// <summary>Number of values.</summary>
    public int NumElements => Data.NumElements;

    /// <inheritdoc/>
    public override string ToString() => $"Parameter({Shapes(Data.Shape)})";

    private static string Shapes(int[] s) => "[" + string.Join(",", s) + "]";
}

/// <summary>
/// A rule that a parameter's values must keep through training, enforced by the optimizers around every step
/// (as a projected-gradient method: the gradient is constrained before the update, the values projected after it).
/// Pruning's mask is one (<see cref="PruningMask"/>).
/// </summary>
public interface IParameterConstraint
{
    /// <summary>The gradient to use for <paramref name="parameter"/>'s update, given its raw <paramref name="grad"/> (same shape).</summary>
    Tensor ConstrainGradient(Parameter parameter, Tensor grad);

    /// <summary>Projects <paramref name="parameter"/>'s values onto the constraint, in place.</summary>
    void Project(Parameter parameter);
}
