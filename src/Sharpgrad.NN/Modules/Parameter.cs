namespace Sharpgrad.NN;

/// <summary>A trainable tensor of a <see cref="Module"/>: a leaf that requires grad, with an optional pruning mask.</summary>
public sealed class Parameter
{
    /// <summary>Wraps <paramref name="data"/> (which is made a leaf that requires grad).</summary>
    public Parameter(Tensor data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.IsLeaf) data = data.Detach();
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

    /// <summary>A 0/1 mask of the same shape: masked-out weights are held at exactly zero (see pruning).</summary>
    public Tensor? Mask { get; set; }

    /// <summary>Shape of the values.</summary>
    public int[] Shape => Data.Shape;

    /// <summary>Number of values.</summary>
    public int NumElements => Data.NumElements;

    /// <summary>Zeroes masked-out values (no-op without a mask).</summary>
    public void ApplyMask()
    {
        if (Mask is null) return;
        using var _ = Tensor.NoGrad();
        Data.CopyFrom(Data.Mul(Mask));
    }

    /// <inheritdoc/>
    public override string ToString() => $"Parameter({Shapes(Data.Shape)})";

    private static string Shapes(int[] s) => "[" + string.Join(",", s) + "]";
}
