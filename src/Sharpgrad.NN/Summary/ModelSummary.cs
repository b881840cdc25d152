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

    /// <summary>Runs one zero input of shape (1, C, H, W) through <paramref name="model"/> and describes each layer.</summary>
    public static ModelSummary Create(Module model, int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var _ = Tensor.NoGrad();
            var x = Tensor.Zeros([1, .. inputShape]);
            var rows = new List<SummaryRow> { Describe("", null, x.Shape, x.Shape) };
            var layers = model is Sequential s ? s.Children : [("0", model)];
            foreach (var (name, layer) in layers)
            {
                var input = x.Shape;
                try
                {
                    x = layer.Forward(x);
                }
                catch (ArgumentException e)
                {
                    throw new ArgumentException($"Summary: layer {name} ({layer.TypeName}) cannot take input [{string.Join(",", input)}]: {e.Message}", e);
                }
                rows.Add(Describe(name, layer, input, x.Shape));
            }
            return new ModelSummary(rows, (int[])inputShape.Clone());
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    private static string F(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static SummaryRow Describe(string name, Module? layer, int[] input, int[] output)
    {
        int c = output.Length > 1 ? output[1] : 1;
        string spatial = output.Length == 4 ? (output[2] == output[3] ? F(output[2]) : $"{output[2]}x{output[3]}") : "-";
        string cText = F(c);
        long macs = 0, buffers = 0;
        int? filters = null, kernel = null;
        string formula = "0";
        // a container's row counts everything below it (a residual block's convolutions and batch norms)
        long parameters = layer?.Parameters().Sum(p => (long)p.NumElements) ?? 0;
        string display;
        switch (layer)
        {
            case null:
                display = "Input";
                break;
            case Conv2d conv:
                display = "Conv";
                filters = conv.OutChannels;
                kernel = conv.KernelSize;
                formula = conv.Bias is null
                    ? $"{conv.InChannels}*{conv.KernelSize}*{conv.KernelSize} * {conv.OutChannels}"
                    : $"({conv.InChannels}*{conv.KernelSize}*{conv.KernelSize} + 1) * {conv.OutChannels}";
                macs = (long)output[1] * output[2] * output[3] * conv.InChannels * conv.KernelSize * conv.KernelSize;
                break;
            case Linear fc:
                display = "FC";
                formula = fc.Bias is null ? $"{fc.InFeatures}*{fc.OutFeatures}" : $"{fc.InFeatures}*{fc.OutFeatures} + {fc.OutFeatures}";
                macs = (long)fc.InFeatures * fc.OutFeatures;
                break;
            case MaxPool2d mp:
                display = "Pool";
                kernel = mp.KernelSize;
                break;
            case AvgPool2d ap:
                display = "AvgPool";
                kernel = ap.KernelSize;
                break;
            case BatchNormBase bn:
                display = "BatchNorm";
                formula = bn.Weight is null ? "0" : $"2*{bn.NumFeatures} (gamma, beta)";
                buffers = 2L * bn.NumFeatures;
                break;
            case Flatten:
                display = "Flatten";
                if (input.Length == 4) cText = $"{c} = {input[1]}*{input[2]}*{input[3]}";
                break;
            default:
                display = layer.TypeName;
                buffers = layer.BufferCount();
                break;
        }
        if (layer is not null && parameters != 0 && formula == "0") formula = F(parameters);
        return new SummaryRow(name, display, output, c, cText, spatial, filters, kernel, parameters, formula, buffers, macs);
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
