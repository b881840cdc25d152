using System.Text.Json.Nodes;

namespace Sharpgrad.NN;

/// <summary>
/// A residual connection: y = body(x) + shortcut(x), with the shortcut the identity unless given (e.g. a 1x1
/// convolution and batch norm where the body changes the shape; He et al. 2016, "Deep residual learning for image
/// recognition", option B). Children are named "body" and "shortcut" in the state dict. An activation after the sum
/// is the next layer of the enclosing container. x: (N, ...) -> body's output shape, which the shortcut must match.
/// </summary>
public sealed class Residual : Module
{
    /// <inheritdoc/>
    public override bool IsPerSample => Body.IsPerSample && Shortcut.IsPerSample;

    /// <summary>Creates the block.</summary>
    public Residual(Module body, Module? shortcut = null)
    {
        Body = RegisterModule("body", body);
        Shortcut = RegisterModule("shortcut", shortcut ?? new Identity());
    }

    /// <summary>The main branch.</summary>
    public Module Body { get; }

    /// <summary>The shortcut branch (identity by default).</summary>
    public Module Shortcut { get; }

    /// <inheritdoc/>
    public override JsonObject DescribeArguments() => new() { ["body"] = ModelSpec.Describe(Body), ["shortcut"] = ModelSpec.Describe(Shortcut) };

    internal static Residual FromSpec(SpecReader r) => new(r.Module("body", "body"), r.OptionalModule("shortcut", "shortcut"));

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        var (a, b) = Branches(input);
        return a.Add(b);
    }

    /// <summary>
    /// A ReLU right after the block runs with the sum as one pass, <see cref="Tensor.AddRelu"/> (bitwise the sum and
    /// the ReLU one by one, values and gradients): a ResNet basic block's end.
    /// </summary>
    public override FusedStep? FuseWith(IReadOnlyList<Module> following)
    {
        ArgumentNullException.ThrowIfNull(following);
        if (following.Count == 0 || following[0] is not ReLU) return null;
        return new FusedStep(2, "Residual+ReLU fused (the sum and the ReLU in one pass)", x =>
        {
            var (a, b) = Branches(x);
            return a.AddRelu(b);
        });
    }

    private (Tensor Body, Tensor Shortcut) Branches(Tensor input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var a = Body.Call(input);
        var b = Shortcut.Call(input);
        if (!a.Shape.SequenceEqual(b.Shape))
            throw new ArgumentException($"Residual: the body gives [{string.Join(",", a.Shape)}] but the shortcut gives [{string.Join(",", b.Shape)}] for input [{string.Join(",", input.Shape)}]; give a shortcut that matches (e.g. a strided 1x1 Conv2d).");
        return (a, b);
    }

    /// <summary>The body and the shortcut on the same input, then ONNX Add.</summary>
    public override string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var a = graph.Export(Body, input);
        var b = graph.Export(Shortcut, input);
        return graph.AddNode("Add", [a, b]);
    }
}
