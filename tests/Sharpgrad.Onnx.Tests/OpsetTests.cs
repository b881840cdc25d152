using Google.Protobuf;
using Sharpgrad.NN;
using Xunit;
using AttrType = Sharpgrad.Onnx.AttributeProto.Types.AttributeType;

namespace Sharpgrad.Onnx.Tests;

/// <summary>
/// The attribute-or-input and semantic differences between opsets (ONNX's Changelog.md): ONNX's node tests use each
/// operator's latest version, so the older forms are checked here on one-node graphs.
/// </summary>
public sealed class OpsetTests
{
    private static AttributeProto Attr(string name, long v) => new() { Name = name, Type = AttrType.Int, I = v };

    private static AttributeProto Attr(string name, float v) => new() { Name = name, Type = AttrType.Float, F = v };

    private static AttributeProto Attr(string name, long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttrType.Ints };
        a.Ints.Add(v);
        return a;
    }

    private static TensorProto Ints(string name, params long[] v)
    {
        var t = new TensorProto { Name = name, DataType = 7 };
        t.Dims.Add(v.Length);
        t.Int64Data.Add(v);
        return t;
    }

    private static TensorProto Floats(string name, float[] v, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.Add(dims);
        t.FloatData.Add(v);
        return t;
    }

    /// <summary>A graph of one node reading graph input "x" (and the initializers) into output "y".</summary>
    private static byte[] OneNode(string op, long opset, string[] inputs, AttributeProto[] attributes, params TensorProto[] initializers)
    {
        var node = new NodeProto { OpType = op, Name = "n" };
        node.Input.Add(inputs);
        node.Output.Add("y");
        node.Attribute.Add(attributes);
        var graph = new GraphProto { Name = "g" };
        graph.Node.Add(node);
        graph.Initializer.Add(initializers);
        graph.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        graph.Output.Add(new ValueInfoProto { Name = "y" });
        var model = new ModelProto { IrVersion = 7, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model.ToByteArray();
    }

    private static Tensor Run(byte[] model, Tensor x) => OnnxModel.Load(model, "opset.onnx").Run(x)[0];

    private static readonly Tensor X = Tensor.Randn([2, 3, 4], new Generator(5));

    private static void Same(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray();
        var a = actual.ToArray();
        for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) <= 1e-6 + 1e-5 * Math.Abs(e[i]), $"element {i}: {a[i]} vs {e[i]}");
    }

    [Fact]
    public void SoftmaxBeforeOpset13CoercesTo2dAfterItTakesOneAxis()
    {
        foreach (var op in new[] { "Softmax", "LogSoftmax" })
        {
            bool log = op == "LogSoftmax";
            var flat = X.Reshape(2, 12);
            Same((log ? flat.LogSoftmax(1) : flat.Softmax(1)).Reshape(2, 3, 4), Run(OneNode(op, 11, ["x"], [Attr("axis", 1L)]), X));
            Same((log ? flat.LogSoftmax(1) : flat.Softmax(1)).Reshape(2, 3, 4), Run(OneNode(op, 11, ["x"], []), X)); // default axis 1
            Same(log ? X.LogSoftmax(1) : X.Softmax(1), Run(OneNode(op, 13, ["x"], [Attr("axis", 1L)]), X));
            Same(log ? X.LogSoftmax(-1) : X.Softmax(-1), Run(OneNode(op, 13, ["x"], []), X)); // default axis -1
        }
    }

    [Fact]
    public void ReshapeTakesItsShapeAsAnAttributeBeforeOpset5AndAsAnInputAfter()
    {
        Same(X.Reshape(4, 6), Run(OneNode("Reshape", 1, ["x"], [Attr("shape", [4L, -1L])]), X));
        Same(X.Reshape(2, 12), Run(OneNode("Reshape", 13, ["x", "s"], [], Ints("s", 0, -1)), X)); // 0 copies the dimension
    }

    [Fact]
    public void UnsqueezeSqueezeAndReductionsTakeAxesAsAttributesOrInputsByOpset()
    {
        Same(X.Unsqueeze(1), Run(OneNode("Unsqueeze", 11, ["x"], [Attr("axes", [1L])]), X));
        Same(X.Unsqueeze(1), Run(OneNode("Unsqueeze", 13, ["x", "a"], [], Ints("a", 1)), X));
        var one = X.Slice(1, 0, 1);
        Same(one.Squeeze(1), Run(OneNode("Squeeze", 11, ["x"], [Attr("axes", [1L])]), one));
        Same(one.Squeeze(1), Run(OneNode("Squeeze", 13, ["x", "a"], [], Ints("a", 1)), one));
        Same(X.Sum([1]), Run(OneNode("ReduceSum", 11, ["x"], [Attr("axes", [1L]), Attr("keepdims", 0L)]), X));
        Same(X.Sum([1]), Run(OneNode("ReduceSum", 13, ["x", "a"], [Attr("keepdims", 0L)], Ints("a", 1)), X));
        Same(X.Mean([0, 2], keepDim: true), Run(OneNode("ReduceMean", 17, ["x"], [Attr("axes", [0L, 2L])]), X));
        Same(X.Mean([0, 2], keepDim: true), Run(OneNode("ReduceMean", 18, ["x", "a"], [], Ints("a", 0, 2)), X));
        Same(X, Run(OneNode("ReduceMax", 18, ["x"], [Attr("noop_with_empty_axes", 1L)]), X));
        Same(X.Max([0, 1, 2], keepDim: true), Run(OneNode("ReduceMax", 13, ["x"], []), X));
    }

    [Fact]
    public void LegacyAttributesOfOldOpsets()
    {
        // Concat before opset 4: axis defaults to 1; Dropout before 12: ratio as an attribute (inference: identity)
        Same(Tensor.Cat([X, X], 1), Run(OneNode("Concat", 1, ["x", "x"], []), X));
        Same(X, Run(OneNode("Dropout", 7, ["x"], [Attr("ratio", 0.3f)]), X));
        Same(X, Run(OneNode("Dropout", 12, ["x", "r"], [], Floats("r", [0.3f])), X));
        // binary ops before opset 7: broadcast=1 is NumPy's trailing alignment; Gemm's broadcast likewise
        var b = Floats("b", [1, 2, 3, 4], 4);
        Same(X.Add(Tensor.FromArray(new float[] { 1, 2, 3, 4 }, 4)), Run(OneNode("Add", 6, ["x", "b"], [Attr("broadcast", 1L)], b), X));
        var m = X.Reshape(6, 4);
        var w = Floats("w", [.. Enumerable.Range(0, 12).Select(i => i / 10f)], 4, 3);
        var c = Floats("c", [1, 2, 3], 3);
        var expected = m.MatMul(Tensor.FromArray([.. Enumerable.Range(0, 12).Select(i => i / 10f)], 4, 3)).Mul(0.5).Add(Tensor.FromArray(new float[] { 1, 2, 3 }, 3).Mul(2));
        Same(expected, Run(OneNode("Gemm", 6, ["x", "w", "c"], [Attr("broadcast", 1L), Attr("alpha", 0.5f), Attr("beta", 2f)], w, c), m));
    }

    [Fact]
    public void OldFormsOutsideTheSupportedSetAreRefusedNamingOperatorNodeAndOpset()
    {
        var b = Floats("b", [1, 2, 3], 3);
        var e = Assert.Throws<DataException>(() => OnnxModel.Load(OneNode("Add", 6, ["x", "b"], [Attr("broadcast", 1L), Attr("axis", 1L)], b), "old.onnx"));
        Assert.Equal("old.onnx: ONNX operator Add (node 'n', opset 6): attribute axis (legacy broadcasting) is not supported.", e.Message);
        var s = Floats("s", [1, 1, 1], 3);
        var bn = Assert.Throws<DataException>(() => OnnxModel.Load(OneNode("BatchNormalization", 7, ["x", "s", "s", "s", "s"], [Attr("spatial", 0L)], s), "old.onnx"));
        Assert.Equal("old.onnx: ONNX operator BatchNormalization (node 'n', opset 7): attribute spatial=0 is not supported.", bn.Message);
        var domain = Assert.Throws<DataException>(() => OnnxModel.Load(OneNode("Relu", 22, ["x"], []), "new.onnx"));
        Assert.Equal("new.onnx: opset 22 of the default domain is not supported (1 to 21 are).", domain.Message);
    }
}
