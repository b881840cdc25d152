using Microsoft.ML.OnnxRuntime;
using Sharpgrad.NN;
using Xunit;
using Xunit.Abstractions;

namespace Sharpgrad.Onnx.Tests;

/// <summary>
/// Export checked with ONNX Runtime as the oracle: the exported file, run in ONNX Runtime, gives Sharpgrad's
/// evaluation-mode outputs within atol 1e-5, rtol 1e-4, at batch 1 and at a larger batch (the batch is dynamic).
/// </summary>
public sealed class OnnxExportTests(ITestOutputHelper output)
{
    private const double Atol = 1e-5, Rtol = 1e-4;

    public static TheoryData<string, int, int, int> BuiltInModels()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var name in Models.Names)
        {
            data.Add(name, 1, 28, 28);
            data.Add(name, 3, 32, 32);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BuiltInModels))]
    public void EveryBuiltInModelRunsInOnnxRuntimeAsInSharpgrad(string name, int c, int h, int w)
    {
        var g = new Generator(7);
        var model = Models.Create(name, c, h, w, 10, dropout: name == "mlp" ? 0.2 : 0, generator: g);
        int[] shape = [c, h, w];
        TrainAFewSteps(model, shape, 10, g);
        model.Fuse();
        var bytes = OnnxExport.ToBytes(model, shape);
        double worst = AssertMatchesOnnxRuntime(model, bytes, shape, g);
        output.WriteLine($"{name} {c}x{h}x{w}: {bytes.Length:N0} bytes, largest |ONNX Runtime - Sharpgrad| {worst:E2}");
        AssertInitializersAreTheStateDict(model, bytes);
        Assert.True(model.Training); // the export restores the training mode
    }

    [Fact]
    public void SpecFileModelRunsInOnnxRuntime()
    {
        var g = new Generator(3);
        var model = ModelSpec.Load(Path.Combine(AppContext.BaseDirectory, "tiny-residual.json"));
        int[] shape = [1, 28, 28];
        TrainAFewSteps(model, shape, 10, g);
        var bytes = OnnxExport.ToBytes(model, shape);
        AssertMatchesOnnxRuntime(model, bytes, shape, g);
        AssertInitializersAreTheStateDict(model, bytes);
    }

    /// <summary>Every layer and option the export writes: strides, padding, groups, no bias, non-affine batch norm, Flatten ranges, Linear on rank 3.</summary>
    [Fact]
    public void EveryLayerAndOptionRunsInOnnxRuntime()
    {
        var g = new Generator(11);
        var model = new Sequential(
            new Conv2d(3, 4, 3, stride: 2, padding: 1, bias: false, generator: g), // 16 -> 8
            new BatchNorm2d(4, affine: false),
            new GELU(),
            new AvgPool2d(3, stride: 1, padding: 1),                                // 8 -> 8, padding counted
            new Conv2d(4, 4, 3, padding: 1, generator: g, groups: 4),
            new Sigmoid(),
            new MaxPool2d(3, stride: 2, padding: 1),                                // 8 -> 4
            new AdaptiveAvgPool2d(2, 2),                                            // 4 -> 2: AveragePool 2x2
            new Tanh(),
            new Flatten(2),                                                         // (N, 4, 4)
            new Linear(4, 3, bias: false, generator: g),                            // rank 3: MatMul
            new LeakyReLU(0.2),
            new Flatten(),                                                          // (N, 12)
            new BatchNorm1d(12),
            new Dropout(0.3, g),
            new Identity(),
            new Linear(12, 5, generator: g),
            new ReLU());
        int[] shape = [3, 16, 16];
        TrainAFewSteps(model, shape, 5, g);
        var bytes = OnnxExport.ToBytes(model, shape);
        AssertMatchesOnnxRuntime(model, bytes, shape, g);
        AssertInitializersAreTheStateDict(model, bytes);
        var ops = ModelProto.Parser.ParseFrom(bytes).Graph.Node.Select(n => n.OpType).ToHashSet();
        foreach (var op in new[] { "Conv", "BatchNormalization", "Erf", "AveragePool", "Sigmoid", "MaxPool", "Tanh", "Reshape", "MatMul", "LeakyRelu", "Flatten", "Gemm", "Relu" })
            Assert.Contains(op, ops);
    }

    [Fact]
    public void StepAndAnIdentityModelRunInOnnxRuntime()
    {
        var g = new Generator(5);
        int[] shape = [2, 3, 3];
        var step = new Sequential(new Step());
        var bytes = OnnxExport.ToBytes(step, shape);
        AssertMatchesOnnxRuntime(step, bytes, shape, g);
        var x = Tensor.FromArray(new float[] { -1, 0, 1, -0f, float.NaN, 2, -3, 0.5f, -1e-30f }, 1, 1, 3, 3);
        Assert.Equal([0f, 1, 1, 1, 0, 1, 0, 1, 0], RunOnnx(OnnxExport.ToBytes(step, [1, 3, 3]), x).Values);

        var identity = new Identity();
        var idBytes = OnnxExport.ToBytes(identity, shape);
        AssertMatchesOnnxRuntime(identity, idBytes, shape, g);
        Assert.Equal("Identity", ModelProto.Parser.ParseFrom(idBytes).Graph.Node.Single().OpType);
    }

    /// <summary>A module of one's own, made of supported layers, exports its own nodes between its children.</summary>
    private sealed class TwoPath : Module
    {
        private readonly Conv2d _conv;
        private readonly BatchNorm2d _bn;
        private readonly LeakyReLU _act;
        private readonly Sequential _head;

        public TwoPath(Generator g)
        {
            _conv = RegisterModule("conv", new Conv2d(1, 6, 3, padding: 1, generator: g));
            _bn = RegisterModule("bn", new BatchNorm2d(6));
            _act = RegisterModule("act", new LeakyReLU(0.3));
            _head = RegisterModule("head", new Sequential(new MaxPool2d(2), new Flatten(), new Linear(6 * 4 * 4, 4, generator: g)));
        }

        // x: (N, 1, 8, 8) -> (N, 4): a = bn(conv(x)); head(a + act(a))
        public override Tensor Forward(Tensor input)
        {
            var a = _bn.Call(_conv.Call(input));
            return _head.Call(a.Add(_act.Call(a)));
        }

        public override string ExportOnnx(IOnnxGraphWriter graph, string input)
        {
            var a = graph.Export(_bn, graph.Export(_conv, input));
            var sum = graph.AddNode("Add", [a, graph.Export(_act, a)]);
            return graph.Export(_head, sum);
        }
    }

    [Fact]
    public void CustomModuleOfSupportedLayersRunsInOnnxRuntime()
    {
        var g = new Generator(9);
        var model = new TwoPath(g);
        int[] shape = [1, 8, 8];
        TrainAFewSteps(model, shape, 4, g);
        var bytes = OnnxExport.ToBytes(model, shape);
        AssertMatchesOnnxRuntime(model, bytes, shape, g);
        AssertInitializersAreTheStateDict(model, bytes);
        Assert.Contains("head.2.weight", ModelProto.Parser.ParseFrom(bytes).Graph.Initializer.Select(i => i.Name));
    }

    private sealed class Square : Module
    {
        public override Tensor Forward(Tensor input) => input.Mul(input);
    }

    [Fact]
    public void AnUnsupportedLayerGivesOneLineNamingIt()
    {
        var model = new Sequential(new Conv2d(1, 2, 3), new Sequential(new ReLU(), new Square()));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(model, [1, 8, 8]));
        Assert.Equal("ONNX export: Square (layer 1.1) has no ONNX export; override Module.ExportOnnx to write it with ONNX operators.", e.Message);
        Assert.True(model.Training);

        var pool = new Sequential(new AdaptiveAvgPool2d(3, 3));
        var p = Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(pool, [2, 7, 7]));
        Assert.Equal("ONNX export: AdaptiveAvgPool2d (layer 0) from 7x7 to 3x3 averages windows of unequal size, which no ONNX operator computes (export works when the output size divides the input size).", p.Message);

        var root = Assert.Throws<NotSupportedException>(() => OnnxExport.ToBytes(new Square(), [3]));
        Assert.Contains("Square (the model itself) has no ONNX export", root.Message);

        var shape = Assert.Throws<ArgumentException>(() => OnnxExport.ToBytes(model, [3, 8, 8]));
        Assert.StartsWith("ONNX export: the Sequential does not take inputs of shape 3x8x8: ", shape.Message);
        Assert.DoesNotContain('\n', shape.Message);
        Assert.Throws<ArgumentException>(() => OnnxExport.ToBytes(model, [1, 0, 8]));
    }

    [Fact]
    public void SaveIsAtomicAndWritesTheHeader()
    {
        var dir = Directory.CreateTempSubdirectory("sharpgrad-onnx-").FullName;
        try
        {
            var path = Path.Combine(dir, "m.onnx");
            var model = Models.Create("exam-cnn", 1, 28, 28, 10, generator: new Generator(1));
            OnnxExport.Save(model, [1, 28, 28], path, new Dictionary<string, string> { ["classes"] = "[\"a\"]" });
            var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            Assert.Equal(OnnxFormat.IrVersion, proto.IrVersion);
            Assert.Equal(17, proto.OpsetImport.Single(o => o.Domain.Length == 0).Version);
            Assert.Equal("input", proto.Graph.Input.Single().Name);
            Assert.Equal("N", proto.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
            Assert.Equal([1L, 28, 28], proto.Graph.Input[0].Type.TensorType.Shape.Dim.Skip(1).Select(d => d.DimValue));
            Assert.Equal("output", proto.Graph.Output.Single().Name);
            Assert.Equal("N", proto.Graph.Output[0].Type.TensorType.Shape.Dim[0].DimParam);
            Assert.Equal(10, proto.Graph.Output[0].Type.TensorType.Shape.Dim[1].DimValue);
            Assert.Equal("[\"a\"]", proto.MetadataProps.Single(m => m.Key == "classes").Value);

            // a failing export leaves the file as it was and no temporary file
            var before = File.ReadAllBytes(path);
            Assert.Throws<NotSupportedException>(() => OnnxExport.Save(new Sequential(new Square()), [1, 28, 28], path));
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Single(Directory.GetFiles(dir));
            Assert.Throws<ArgumentException>(() => OnnxExport.Save(model, [1, 28, 28], Path.Combine(dir, "missing", "m.onnx")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A few SGD steps in training mode on random data, so that batch norms' running statistics are far from 0 and 1.</summary>
    internal static void TrainAFewSteps(Module model, int[] shape, int classes, Generator g)
    {
        model.Train();
        var opt = new Sgd(model.Parameters(), 0.05, momentum: 0.9);
        for (int step = 0; step < 3; step++)
        {
            var x = Tensor.Randn([8, .. shape], g).Mul(Tensor.Full([], 2.0)).Add(Tensor.Full([], 0.5));
            var labels = Enumerable.Range(0, 8).Select(i => (i * 7 + step) % classes).ToArray();
            model.ZeroGrad();
            Losses.CrossEntropy(model.Call(x), labels).Backward();
            opt.Step();
        }
    }

    /// <summary>Batch 1 and batch 5 through Sharpgrad (evaluation mode) and ONNX Runtime: same output shape, values within atol + rtol |expected|.</summary>
    internal static double AssertMatchesOnnxRuntime(Module model, byte[] onnx, int[] shape, Generator g)
    {
        bool training = model.Training;
        double worst = 0;
        model.Eval();
        try
        {
            foreach (int batch in new[] { 1, 5 })
            {
                var x = Tensor.Randn([batch, .. shape], g);
                Tensor expected;
                using (Tensor.NoGrad()) expected = model.Call(x);
                var (dims, actual) = RunOnnx(onnx, x);
                Assert.Equal(expected.Shape.Select(d => (long)d), dims);
                var e = expected.ToArray();
                for (int i = 0; i < e.Length; i++)
                {
                    worst = Math.Max(worst, Math.Abs(actual[i] - e[i]));
                    Assert.True(Math.Abs(actual[i] - e[i]) <= Atol + Rtol * Math.Abs(e[i]),
                        $"batch {batch}, element {i}: ONNX Runtime {actual[i]:R}, Sharpgrad {e[i]:R}");
                }
            }
        }
        finally
        {
            model.Train(training);
        }
        return worst;
    }

    internal static (long[] Dims, float[] Values) RunOnnx(byte[] onnx, Tensor x)
    {
        using var session = new InferenceSession(onnx);
        using var input = OrtValue.CreateTensorValueFromMemory(x.ToArray(), [.. x.Shape.Select(d => (long)d)]);
        using var options = new RunOptions();
        using var outputs = session.Run(options, [OnnxExport.InputName], [input], [OnnxExport.OutputName]);
        var result = outputs[0];
        return (result.GetTensorTypeAndShape().Shape, result.GetTensorDataAsSpan<float>().ToArray());
    }

    /// <summary>The initializers are the state_dict less num_batches_tracked, by name and value.</summary>
    internal static void AssertInitializersAreTheStateDict(Module model, byte[] onnx)
    {
        var proto = ModelProto.Parser.ParseFrom(onnx);
        var state = model.StateDict().Where(s => !s.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal)).ToList();
        Assert.Equal(state.Select(s => s.Name).Order(StringComparer.Ordinal), proto.Graph.Initializer.Select(i => i.Name).Order(StringComparer.Ordinal));
        foreach (var init in proto.Graph.Initializer)
        {
            var t = state.Single(s => s.Name == init.Name).Value;
            Assert.Equal((int)TensorProto.Types.DataType.Float, init.DataType);
            Assert.Equal(t.Shape.Select(d => (long)d), init.Dims);
            Assert.Equal(t.ToArray(), init.FloatData.ToArray());
        }
    }
}
