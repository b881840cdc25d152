using System.Globalization;
using Sharpgrad.NN;

namespace Sharpgrad.Lab;

/// <summary>
/// Q10: the exam CNN's table from Sharpgrad's model summary (<see cref="ModelSummary"/>, which traces a forward pass
/// and asks each layer for its row), for the exam's 3x32x32 input and for Fashion-MNIST's 1x28x28, with each
/// parameter count's arithmetic; checked against the exam's 448, 2320, 32, 10250 and 13050, and 10362 for 1x28x28.
/// </summary>
public sealed class Q10ExamSummary : LabExperiment
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <inheritdoc/>
    public override int Number => 10;

    /// <inheritdoc/>
    public override string Title => "The exam CNN's summary table";

    /// <inheritdoc/>
    public override string Question => "Fill the table for this CNN (3x3 kernels, conv stride 1 pad 1, pool 2x2 stride 2): Conv 16 -> ReLU -> Pool -> BatchNorm -> Conv 16 -> ReLU -> Pool -> Flatten -> FC 10, on 3x32x32 (CIFAR-10) input.";

    /// <inheritdoc/>
    public override string Answer => "Conv 448 = (3*3*3 + 1) * 16; ReLU keeps 16x32x32 (not 31); Pool 16x16x16; BatchNorm 32 (gamma and beta; the 32 running statistics are buffers); Conv 2320 = (16*3*3 + 1) * 16; Pool 16x8x8; Flatten 1024 = 16*8*8; FC 10250 = 1024*10 + 10; 13050 trainable in all. On Fashion-MNIST (1x28x28): 160 + 32 + 2320 + 7850 = 10362.";

    /// <inheritdoc/>
    public override LabResult Run(LabContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var result = new LabResult();
        var cifar = ModelSummary.Create(ExamCnn.Create(3, 32, 32, generator: new Generator(context.Seed)), [3, 32, 32]);
        var fashion = ModelSummary.Create(ExamCnn.Create(1, 28, 28, generator: new Generator(context.Seed)), [1, 28, 28]);
        result.Tables.Add(Table("The exam's table, 3x32x32 input (CIFAR-10 shape)", cifar));
        result.Tables.Add(Table("The same network on Fashion-MNIST, 1x28x28 input", fashion));

        long[] Params(ModelSummary s, string layer) => s.Rows.Where(r => r.Layer == layer).Select(r => r.Parameters).ToArray();
        var convs = Params(cifar, "Conv");
        var bn = Params(cifar, "BatchNorm");
        var fc = Params(cifar, "FC");
        var relu = cifar.Rows.FirstOrDefault(r => r.Layer == "ReLU");
        var flatten = cifar.Rows.FirstOrDefault(r => r.Layer == "Flatten");
        void Expect(string what, long expected, long[] got, int index, string arithmetic)
        {
            long v = index < got.Length ? got[index] : -1;
            result.Check(what, $"{expected:N0} = {arithmetic}", index < got.Length ? v.ToString("N0", Inv) : "missing", v == expected);
        }
        Expect("first Conv parameters", 448, convs, 0, "(3*3*3 + 1) * 16");
        Expect("BatchNorm parameters (gamma, beta)", 32, bn, 0, "2 * 16");
        Expect("second Conv parameters", 2320, convs, 1, "(16*3*3 + 1) * 16");
        Expect("FC parameters", 10250, fc, 0, "1024*10 + 10");
        result.Check("trainable parameters, 3x32x32", "13,050", cifar.TrainableParameters.ToString("N0", Inv), cifar.TrainableParameters == 13050);
        result.Check("first ReLU's H/W (the answer sheet wrote 31)", "32", relu?.Spatial ?? "missing", relu?.Spatial == "32");
        result.Check("Flatten's features", "1024 = 16*8*8", flatten?.Channels.ToString(Inv) ?? "missing", flatten?.Channels == 1024);
        result.Check("trainable parameters, 1x28x28", "10,362 = 160 + 32 + 2320 + 7850", fashion.TrainableParameters.ToString("N0", Inv), fashion.TrainableParameters == 10362);

        result.Add("3x32x32: trainable parameters", cifar.TrainableParameters);
        result.Add("3x32x32: buffer values (BatchNorm running mean and variance)", cifar.BufferValues);
        result.Add("3x32x32: multiply-accumulates per image", cifar.Macs);
        result.Add("1x28x28: trainable parameters", fashion.TrainableParameters);
        result.Add("1x28x28: buffer values", fashion.BufferValues);
        result.Add("1x28x28: multiply-accumulates per image", fashion.Macs);

        var withParams = cifar.Rows.Where(r => r.Parameters > 0).ToList();
        var (path, file) = context.PlotFile(this, "parameters");
        LabPlots.Bars(path, "Trainable parameters per layer, 3x32x32", "parameters", withParams.Select(r => $"{r.Layer} ({r.Name})").ToArray(), withParams.Select(r => (double)r.Parameters).ToArray());
        result.Plots.Add(new LabPlot(file, "Where the 13,050 parameters are: the fully connected layer holds most of them."));

        result.Findings.Add($"Sharpgrad's summary of the exam CNN gives {string.Join(", ", withParams.Select(r => $"{r.Layer} {r.Parameters:N0}"))}: {cifar.TrainableParameters:N0} trainable parameters for 3x32x32, as the exam's table, and {fashion.TrainableParameters:N0} for Fashion-MNIST's 1x28x28.");
        result.Findings.Add($"ReLU and pooling have no parameters; BatchNorm's 32 are gamma and beta, while its {cifar.BufferValues:N0} running statistics are buffers. The FC layer holds {100.0 * fc.FirstOrDefault() / cifar.TrainableParameters:F0}% of the parameters.");
        return result;
    }

    private static LabTable Table(string caption, ModelSummary s)
    {
        var rows = s.Rows.Select(r => (IReadOnlyList<string>)
        [
            r.Layer, r.ChannelsText, r.Spatial, r.Filters?.ToString(Inv) ?? "-", r.Kernel?.ToString(Inv) ?? "-",
            r.Parameters == 0 ? "0" : string.IsNullOrEmpty(r.ParameterFormula) || r.ParameterFormula == r.Parameters.ToString(Inv) ? r.Parameters.ToString(Inv) : $"{r.Parameters} = {r.ParameterFormula}",
            "[" + string.Join(",", r.OutputShape) + "]",
        ]).ToList();
        rows.Add(["Total", "", "", "", "", $"{s.TrainableParameters} trainable", ""]);
        return new LabTable(caption, ["Layer", "C", "H/W", "filters", "kernel", "parameters", "output shape"], rows);
    }
}
