namespace Sharpgrad.NN;

/// <summary>
/// Runs one zero input through a model, traced, in evaluation mode and without gradients (the model's mode is
/// restored), to check that it takes the data's shape; when a layer refuses it, the error names that layer by its
/// state_dict path (the innermost layer that was running) and the input it got.
/// </summary>
internal static class ForwardCheck
{
    // shape: (C, H, W) or (F) of one example -> the model's output shape for a batch of one
    public static int[] Run(Module model, int[] shape, string what, string data)
    {
        var tracer = new OpenCalls();
        bool training = model.Training;
        model.Eval();
        try
        {
            using var _ = Tensor.NoGrad();
            using var scope = TensorScope.Begin();
            using (Module.Trace(tracer)) return model.Call(Tensor.Zeros([1, .. shape])).Shape;
        }
        catch (ArgumentException e) when (tracer.Open.Count > 0)
        {
            var (failed, input) = tracer.Open.Peek();
            throw new ArgumentException($"{what}: {LayerName(model, failed)} does not fit {data} (its input is [{string.Join(",", input)}]): {e.Message}", e);
        }
        finally
        {
            model.Train(training);
        }
    }

    /// <summary>"layer PATH (Type)" for a module below <paramref name="model"/>, "the model (Type)" for the model itself.</summary>
    public static string LayerName(Module model, Module layer)
    {
        string name = model.NamedModules().FirstOrDefault(m => ReferenceEquals(m.Module, layer)).Name ?? "";
        return name.Length == 0 ? $"the model ({layer.TypeName})" : $"layer {name} ({layer.TypeName})";
    }

    private sealed class OpenCalls : IForwardTracer
    {
        public Stack<(Module Module, int[] Input)> Open { get; } = new();

        public void Enter(Module module, Tensor input) => Open.Push((module, input.Shape));

        public void Exit(Module module, Tensor input, Tensor output) => Open.Pop();
    }
}
