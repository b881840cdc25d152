namespace Sharpgrad;

/// <summary>How a loss combines its per-element values.</summary>
public enum Reduction
{
    /// <summary>The mean over all elements (the default, as PyTorch).</summary>
    Mean,

    /// <summary>The sum over all elements.</summary>
    Sum,

    /// <summary>No reduction: one value per element (per sample for cross-entropy).</summary>
    None,
}

/// <summary>Loss functions, as torch.nn.functional. Each is differentiable with respect to its input.</summary>
public static partial class Losses
{
    private static Tensor Reduce(Tensor perElement, Reduction reduction) => reduction switch
    {
        Reduction.Mean => perElement.Mean(),
        Reduction.Sum => perElement.Sum(),
        Reduction.None => perElement,
        _ => throw new ArgumentOutOfRangeException(nameof(reduction), $"Losses: unknown reduction {reduction}; expected Mean, Sum or None."),
    };

    private static void CheckSameShape(string op, Tensor input, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        Tensor.CheckSameDType(op, input, target);
        if (!Shapes.SameShape(input.Dims, target.Dims))
            throw new ArgumentException($"{op}: input and target shapes differ: input {Shapes.Format(input.Dims)}, target {Shapes.Format(target.Dims)}.");
    }
}
