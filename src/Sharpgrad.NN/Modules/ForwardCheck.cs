namespace Sharpgrad.NN;

/// <summary>
/// Runs one zero input through a model, traced, to check that it takes the data's shape; when a layer refuses it,
/// the error names that layer by its state_dict path (the innermost layer that was running) and the input it got.
/// </summary>
internal static class ForwardCheck
{
    // shape: (C, H, W) or (F) of one example -> the model's output shape for a batch of one
    public static int[] Run(Module model, int[] shape, string what, string data)
    {
        var tracer = new OpenCalls();
        try
        {
            using (Module.Trace(tracer)) return model.Call(Tensor.Zeros([1, .. shape])).Shape;
        }
        catch (ArgumentException e) when (tracer.Open.Count > 0)
        {
            var (failed, input) = tracer.Open.Peek();
            string name = model.NamedModules().FirstOrDefault(m => ReferenceEquals(m.Module, failed)).Name ?? "";
            string layer = name.Length == 0 ? $"the model ({failed.TypeName})" : $"layer {name} ({failed.TypeName})";
            throw new ArgumentException($"{what}: {layer} does not fit {data} (its input is [{string.Join(",", input)}]): {e.Message}", e);
        }
    }

    private sealed class OpenCalls : IForwardTracer
    {
        public Stack<(Module Module, int[] Input)> Open { get; } = new();

        public void Enter(Module module, Tensor input) => Open.Push((module, input.Shape));

        public void Exit(Module module, Tensor input, Tensor output) => Open.Pop();
    }
}
