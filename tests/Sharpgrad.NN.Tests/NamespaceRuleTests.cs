using Sharpgrad.NN;
using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>The README's namespace rule: flat per assembly; Sharpgrad.Kernels is the one exception.</summary>
public sealed class NamespaceRuleTests
{
    [Fact]
    public void EveryTypeSitsInItsAssemblysNamespace()
    {
        var allowed = new Dictionary<System.Reflection.Assembly, string[]>
        {
            [typeof(Tensor).Assembly] = ["Sharpgrad", "Sharpgrad.Kernels"],
            [typeof(Module).Assembly] = ["Sharpgrad.NN"],
            [typeof(Sharpgrad.Onnx.OnnxModel).Assembly] = ["Sharpgrad.Onnx"],
            [typeof(Sharpgrad.Lab.LabExperiment).Assembly] = ["Sharpgrad.Lab"],
            [typeof(Sharpgrad.Workflows.TrainWorkflow).Assembly] = ["Sharpgrad.Workflows"],
        };
        var wrong = allowed
            .SelectMany(a => a.Key.GetTypes()
                .Where(t => t.Namespace is not null && !t.Namespace.StartsWith("System", StringComparison.Ordinal)
                    && !t.Namespace.StartsWith("Microsoft", StringComparison.Ordinal) && !a.Value.Contains(t.Namespace))
                .Select(t => $"{t.FullName} ({a.Key.GetName().Name})"))
            .ToList();
        Assert.True(wrong.Count == 0, "types outside their assembly's namespace: " + string.Join(", ", wrong));
    }
}
