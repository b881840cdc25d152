namespace Sharpgrad;

public static partial class Losses
{
    /// <summary>Mean squared error (input - target)^2; input and target have the same shape.</summary>
    public static Tensor Mse(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        CheckSameShape("Mse", input, target);
        return Reduce(input.Sub(target).Pow(2), reduction);
    }
}
