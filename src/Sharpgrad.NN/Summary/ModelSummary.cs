using System.Globalization;
using System.Text;

namespace Sharpgrad.NN;

/// <summary>One row of a <see cref="ModelSummary"/>: a layer and what it produces for one input.</summary>
/// <param name="Name">Child name in the state dict ("0", "1", ...), empty for the input row.</param>
/// <param name="Layer">Display name as the exam writes it (Conv, ReLU, Pool, BatchNorm, Flatten, FC).</param>
/// <param name="OutputShape">Output shape for a batch of one, batch dimension included.</param>
/// <param name="Channels">C of the output (features for flat outputs).</param>
/// <param name="ChannelsText">C as printed, e.g. "1024 = 16*8*8" for Flatten.</param>
/// <param name="Spatial">H/W of the output ("32", or "28x14" when not square), "-" for flat outputs.</param>
/// <param name="Filters">Number of filters, or null.</param>
/// <param name="Kernel">Kernel size, or null.</param>
/// <param name="Parameters">Trainable parameter count.</param>
/// <param name="ParameterFormula">The count's arithmetic, e.g. "(3*3*3 + 1) * 16".</param>
/// <param name="Buffers">Non-trainable statistic values (running mean and variance).</param>
/// <param name="Macs">Multiply-accumulates for one input (convolution and fully connected layers).</param>
public sealed record SummaryRow(string Name, string Layer, int[] OutputShape, int Channels, string ChannelsText, string Spatial,
    int? Filters, int? Kernel, long Parameters, string ParameterFormula, long Buffers, long Macs);

/// <summary>A per-layer table of output shapes, parameter counts and MACs that reproduces the exam's Q10 table.</summary>
public sealed class ModelSummary
{
    private ModelSummary(IReadOnlyList<SummaryRow> rows, int[] inputShape)
    {
        Rows = rows;
        InputShape = inputShape;
    }

    /// <summary>Input row first, then one row per layer.</summary>
    public IReadOnlyList<SummaryRow> Rows { get; }

    /// <summary>(C, H, W) of one input.</summary>
    public int[] InputShape { get; }

    /// <summary>Total trainable parameters.</summary>
    public long TrainableParameters => Rows.Sum(r => r.Parameters);

    /// <summary>Total non-trainable statistic values (buffers).</summary>
    public long BufferValues => Rows.Sum(r => r.Buffers);

    /// <summary>Total multiply-accumulates for one input.</summary>
    public long Macs => Rows.Sum(r => r.Macs);

    /// <summary>Bytes of parameters and buffers in float32.</summary>
    public long ParameterBytes => (TrainableParameters + BufferValues) * 4;

    /// <summary>Bytes of all layer outputs for one input in float32.</summary>
    public long ActivationBytes => Rows.Skip(1).Sum(r => (long)r.OutputShape.Aggregate(1, (a, b) => a * b)) * 4;

    /// <summary>
    /// Runs one zero input of shape (1, C, H, W) through <paramref name="model"/> in evaluation mode, tracing every
    /// layer call (<see cref="Module.Call"/>), and describes each call of the model's direct children in order (the
    /// model itself when it has none): output shape, the parameters and buffers below the child, and the
    /// multiply-accumulates of every layer the child ran. Each layer says what it shows (<see cref="Module.Summarize"/>).
    /// A module called twice counts its parameters once.
    /// </summary>
    /// <exception cref="ArgumentException">A layer cannot take its input: names the layer and the shape.</exception>
    public static ModelSummary Create(Module model, int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        model.CheckRegistration();
        bool wasTraining = model.Training;
        model.Eval();
        var names = new Dictionary<Module, string>(ReferenceEqualityComparer.Instance);
        foreach (var (n, m) in model.NamedModules()) names.TryAdd(m, n);
        var tracer = new Tracer();
        try
        {
            using var _ = Tensor.NoGrad();
            var x = Tensor.Zeros([1, .. inputShape]);
            try
            {
                using (Module.Trace(tracer)) model.Call(x);
            }
            catch (ArgumentException e)
            {
                var (failed, input) = tracer.Open.Peek();
                throw new ArgumentException($"Summary: {ForwardCheck.LayerName(model, failed)} cannot take input [{string.Join(",", input)}]: {e.Message}", e);
            }
            var rows = new List<SummaryRow> { new("", "Input", x.Shape, x.Shape.Length > 1 ? x.Shape[1] : 1, F(x.Shape.Length > 1 ? x.Shape[1] : 1), Spatial(x.Shape), null, null, 0, "0", 0, 0) };
            var children = new HashSet<Module>(model.Children.Select(c => c.Module), ReferenceEqualityComparer.Instance);
            var rowCalls = tracer.Calls.Where(c => children.Contains(c.Module)).ToList();
            if (rowCalls.Count == 0) rowCalls = tracer.Calls.Where(c => ReferenceEquals(c.Module, model)).ToList();
            var counted = new HashSet<Module>(ReferenceEqualityComparer.Instance);
            foreach (var call in rowCalls)
            {
                var below = new HashSet<Module>(call.Module.NamedModules().Select(m => m.Module), ReferenceEqualityComparer.Instance);
                long macs = tracer.Calls.Where(c => c.Index >= call.FirstIndex && c.Index <= call.Index && below.Contains(c.Module))
                    .Sum(c => c.Module.Summarize(c.Input, c.Output).Macs);
                bool first = counted.Add(call.Module);
                rows.Add(Describe(names.TryGetValue(call.Module, out var n) ? n : "", call.Module, call.Input, call.Output, macs, first));
            }
            return new ModelSummary(rows, (int[])inputShape.Clone());
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    private static string F(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Spatial(int[] output) => output.Length == 4 ? (output[2] == output[3] ? F(output[2]) : $"{output[2]}x{output[3]}") : "-";

    private static SummaryRow Describe(string name, Module layer, int[] input, int[] output, long macs, bool countParameters)
    {
        int c = output.Length > 1 ? output[1] : 1;
        var info = layer.Summarize(input, output);
        long parameters = countParameters ? layer.Parameters().Sum(p => (long)p.NumElements) : 0;
        long buffers = countParameters ? layer.BufferCount() : 0;
        string formula = parameters == 0 ? "0" : info.ParameterFormula ?? F(parameters);
        return new SummaryRow(name, info.Label, output, c, info.ChannelsText ?? F(c), Spatial(output), info.Filters, info.Kernel, parameters, formula, buffers, macs);
    }

    /// <summary>Records each call in the order it ends, with the index of the first call that began inside it.</summary>
    private sealed class Tracer : IForwardTracer
    {
        private int _next;

        public Stack<(Module Module, int[] Input)> Open { get; } = new();

        private readonly Stack<int> _starts = new();

        public List<(Module Module, int[] Input, int[] Output, int Index, int FirstIndex)> Calls { get; } = [];

        public void Enter(Module module, Tensor input)
        {
            Open.Push((module, input.Shape));
            _starts.Push(_next);
        }

        public void Exit(Module module, Tensor input, Tensor output)
        {
            Open.Pop();
            Calls.Add((module, input.Shape, output.Shape, _next++, _starts.Pop()));
        }
    }

    /// <summary>The table as text, with totals.</summary>
    public string ToText()
    {
        string[] head = ["#", "Layer", "Output shape", "C", "H/W", "filters", "kernel", "parameters", "MACs"];
        var cells = Rows.Select(r => new[]
        {
            r.Name, r.Layer, "[" + string.Join(",", r.OutputShape) + "]", r.ChannelsText, r.Spatial,
            r.Filters?.ToString(CultureInfo.InvariantCulture) ?? "-", r.Kernel?.ToString(CultureInfo.InvariantCulture) ?? "-",
            r.Parameters == 0 ? "0" : r.ParameterFormula == F(r.Parameters) ? F(r.Parameters) : $"{F(r.Parameters)} = {r.ParameterFormula}",
            r.Macs.ToString("N0", CultureInfo.InvariantCulture),
        }).ToList();
        var widths = head.Select((h, i) => Math.Max(h.Length, cells.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        void Line(string[] r) => sb.AppendLine(string.Join(" | ", r.Select((v, i) => i >= 7 ? v.PadLeft(widths[i]) : v.PadRight(widths[i]))).TrimEnd());
        Line(head);
        sb.AppendLine(string.Join("-+-", widths.Select(w => new string('-', w))));
        foreach (var r in cells) Line(r);
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Input: {string.Join("x", InputShape)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Trainable parameters: {TrainableParameters:N0}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Non-trainable buffer values: {BufferValues:N0} (BatchNorm running mean and variance)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"MACs per image: {Macs:N0} (convolution and fully connected layers)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Parameter memory: {ParameterBytes:N0} bytes (float32, buffers included)");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Activation memory: {ActivationBytes:N0} bytes per image (float32 layer outputs)");
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => ToText();
}
