
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
