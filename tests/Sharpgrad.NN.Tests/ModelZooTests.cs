using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>
/// Every built-in model against the same model written independently in PyTorch (tools/sharpgrad_models.py,
/// fixtures from tools/make_fixtures.py models): state_dict names and shapes, parameter counts, train-mode outputs,
/// loss, every parameter's gradient and running statistics, eval-mode outputs; and the model-file round trip.
/// </summary>
public sealed class ModelZooTests
{
    private static readonly Lazy<JsonElement> Root = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "models.json"))).RootElement);

    public static TheoryData<string, int, int, int> Cases()
    {
        var d = new TheoryData<string, int, int, int>();
        foreach (var c in Root.Value.GetProperty("cases").EnumerateArray())
        {
            var s = Fixture.Ints(c.GetProperty("input_shape"));
            d.Add(c.GetProperty("name").GetString()!, s[0], s[1], s[2]);
        }
        return d;
    }

    private static JsonElement Case(string name, int c, int h, int w) =>
        Root.Value.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name && Fixture.Ints(e.GetProperty("input_shape")).SequenceEqual([c, h, w]));

    [Fact]
    public void EveryBuiltInModelHasFixtures() =>
        Assert.Equal(Models.Names.Order(), Root.Value.GetProperty("cases").EnumerateArray().Select(e => e.GetProperty("name").GetString()!).Distinct().Order());

    /// <summary>Weights of rank >= 2 from make_fixtures.py's formula_weight; the rest from the fixture.</summary>
    internal static void LoadFixtureWeights(Module model, JsonElement fx)
    {
        var state = new Dictionary<string, Tensor>();
        var stored = fx.GetProperty("stored");
        int k = 0;
        foreach (var (name, t) in model.StateDict())
        {
            if (t.Rank >= 2)
            {
                int n = t.NumElements, fanIn = n / t.Shape[0];
                var v = new float[n];
                for (int j = 0; j < n; j++) v[j] = (float)(((j * 7919L + k * 104729L) % 2001 - 1000) / 1000.0 / Math.Sqrt(fanIn));
                state[name] = Tensor.FromArray(v).Reshape(t.Shape);
            }
            else if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            {
                state[name] = Tensor.Zeros([], t.DType);
            }
            else
            {
                state[name] = Tensor.FromArray(Fixture.Floats(stored.GetProperty(name))).Reshape(t.Shape);
            }
            k++;
        }
        model.LoadStateDict(state);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorchInTrainAndEvalMode(string name, int c, int h, int w)
    {
        var fx = Case(name, c, h, w);
        var model = Models.Create(name, c, h, w, fx.GetProperty("classes").GetInt32(), generator: new Generator(1));
        var shapes = fx.GetProperty("state_shapes").EnumerateObject().Select(p => (p.Name, Fixture.Ints(p.Value))).ToList();
        Assert.Equal(shapes.Select(s => s.Name), model.StateDict().Select(s => s.Name)); // PyTorch's names, in its order
        Assert.Equal(shapes.Select(s => string.Join("x", s.Item2)), model.StateDict().Select(s => string.Join("x", s.Value.Shape)));
        Assert.Equal(fx.GetProperty("parameters").GetInt64(), model.ParameterCount());
        Assert.Equal(fx.GetProperty("parameters").GetInt64(), ModelSummary.Create(model, [c, h, w]).TrainableParameters);
        LoadFixtureWeights(model, fx);
        CheckAgainstFixture(name, model, fx, c, h, w);
    }

    internal static void CheckAgainstFixture(string name, Module model, JsonElement fx, int c, int h, int w)
    {
        var x = Tensor.FromArray(Fixture.Floats(fx.GetProperty("input"))).Reshape(-1, c, h, w);
        var labels = Fixture.Ints(fx.GetProperty("labels"));
        model.Train();
        var logits = model.Forward(x);
        Fixture.AssertClose($"{name} train output", Fixture.Floats(fx.GetProperty("train_output")), logits.ToArray(), 1e-5, 1e-3);
        var loss = Losses.CrossEntropy(logits, labels);
        Assert.Equal(fx.GetProperty("loss").GetDouble(), loss.Item(), 4);
        loss.Backward();
        if (fx.GetProperty("grads").ValueKind == JsonValueKind.Object)
        {
            foreach (var (pname, p) in model.NamedParameters())
            {
                var bytes = Convert.FromBase64String(fx.GetProperty("grads").GetProperty(pname).GetString()!);
                var expected = new float[bytes.Length / 4];
                Buffer.BlockCopy(bytes, 0, expected, 0, bytes.Length);
                Fixture.AssertClose($"{name} grad {pname}", expected, p.Grad!.ToArray(), 1e-4, 1e-3);
            }
        }
        var own = model.StateDict().ToDictionary(s => s.Name, s => s.Value);
        foreach (var b in fx.GetProperty("buffers_after_train").EnumerateObject())
            Fixture.AssertClose($"{name} buffer {b.Name}", Fixture.Floats(b.Value), own[b.Name].ToArray(), 1e-6, 1e-4);
        model.Eval();
        using var _ = Tensor.NoGrad();
        Fixture.AssertClose($"{name} eval output", Fixture.Floats(fx.GetProperty("eval_output")), model.Forward(x).ToArray(), 1e-5, 1e-3);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RebuildsFromItsModelFile(string name, int c, int h, int w)
    {
        var fx = Case(name, c, h, w);
        var doc = ModelSpec.ToDocument(Models.Create(name, c, h, w, 10));
        var text = doc.ToJsonString();
        var rebuilt = ModelSpec.FromDocument(JsonNode.Parse(text), "test.json", new Generator(3));
        Assert.Equal(text, ModelSpec.ToDocument(rebuilt).ToJsonString());
        LoadFixtureWeights(rebuilt, fx);
        CheckAgainstFixture(name + " (from its model file)", rebuilt, fx, c, h, w);
    }

    [Theory]
    [InlineData("""{"format":"sharpgrad-model/1","model":{"type":"Sequential","layers":[{"type":"Conv2d","in_channels":1}]}}""", "layer 0 (Conv2d): missing \"out_channels\"")]
    [InlineData("""{"format":"sharpgrad-model/1","model":{"type":"Sequential","layers":[{"type":"ReLU"},{"type":"Conv3d"}]}}""", "layer 1: unknown layer type 'Conv3d'; expected one of")]
    [InlineData("""{"format":"sharpgrad-model/1","model":{"type":"Sequential","layers":[{"type":"Linear","in_features":4,"out_features":2,"bais":false}]}}""", "layer 0 (Linear): unknown argument \"bais\"; this layer takes \"in_features\", \"out_features\", \"bias\"")]
    [InlineData("""{"format":"sharpgrad-model/1","model":{"type":"Sequential","layers":[{"type":"Residual","body":{"type":"Sequential","layers":[{"type":"Linear","in_features":0,"out_features":2}]}}]}}""", "layer 0.body.0 (Linear): Linear: feature counts must be positive")]
    [InlineData("""{"format":"sharpgrad-model/1","model":{"type":"Sequential","layers":[{"type":"MaxPool2d","kernel_size":"2"}]}}""", "layer 0 (MaxPool2d): \"kernel_size\" must be an integer or a pair [a, b] of integers, got \"2\"")]
    [InlineData("""{"format":"sharpgrad-model/9","model":{"type":"ReLU"}}""", "format 'sharpgrad-model/9'; expected \"format\": \"sharpgrad-model/1\"")]
    [InlineData("""{"model":{"type":"ReLU"}}""", "format missing")]
    [InlineData("""{"format":"sharpgrad-run/2","architecture":"mlp","model":{"type":"ReLU"}}""", "a run's model.json (format 'sharpgrad-run/2'), not a model file; to train its model anew, put its \"model\" entry in a file with \"format\": \"sharpgrad-model/1\"")]
    [InlineData("""[1, 2]""", "expected a JSON object with \"format\" and \"model\"")]
    [InlineData("""{"format":"sharpgrad-model/1","model":{"type":"Sequential","layers":{"type":"ReLU"}}}""", "the model (Sequential): \"layers\" must be an array of layer objects, got an object")]
    public void BadModelFilesGiveOneLineNamingTheLayer(string json, string expected)
    {
        var ex = Assert.Throws<Sharpgrad.NN.DataException>(() => ModelSpec.FromDocument(JsonNode.Parse(json), "spec.json"));
        Assert.Contains(expected, ex.Message);
        Assert.StartsWith("spec.json: ", ex.Message);
        Assert.DoesNotContain("\n", ex.Message);
    }

    [Fact]
    public void ACustomModuleWithoutADescriptionIsRefusedByName()
    {
        var ex = Assert.Throws<NotSupportedException>(() => ModelSpec.Describe(new Sequential(new ReLU(), new Custom())));
        Assert.Contains("Custom has no model description", ex.Message);
    }

    private sealed class Custom : Module
    {
        public override Tensor Forward(Tensor input) => input;
    }
}

public sealed class ModelFileTests
{
    [Fact]
    public void ADuplicateKeyInAModelFileIsOneLine()
    {
        var path = Path.Combine(Path.GetTempPath(), "sharpgrad-dup-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, """{"format":"sharpgrad-model/1","model":{"type":"Linear","in_features":4,"in_features":5,"out_features":2}}""");
        try
        {
            var ex = Assert.Throws<Sharpgrad.NN.DataException>(() => ModelSpec.Load(path));
            Assert.StartsWith(path + ": not valid JSON", ex.Message);
            Assert.DoesNotContain("\n", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

public sealed class Conv2dPairTests
{
    [Fact]
    public void KernelStrideAndPaddingMayBePairsAsInPyTorch()
    {
        // PyTorch 1.13: repr, parameter count and output shape of nn.Conv2d(4, 6, (3, 1), (2, 1), (1, 0), groups=2)
        var conv = new Conv2d(4, 6, (3, 1), (2, 1), (1, 0), generator: new Generator(1), groups: 2);
        Assert.Equal("Conv2d(4, 6, kernel_size=(3, 1), stride=(2, 1), padding=(1, 0), groups=2)", conv.ToString());
        Assert.Equal("Conv2d(16, 32, kernel_size=(1, 1), stride=(2, 2), bias=False)", new Conv2d(16, 32, 1, stride: 2, bias: false).ToString());
        Assert.Equal(42, conv.Parameters().Sum(p => p.Data.NumElements));
        Assert.Equal([6, 2, 3, 1], conv.Weight.Data.Shape);
        var x = Tensor.Randn([1, 4, 7, 5], new Generator(2));
        var y = conv.Forward(x);
        Assert.Equal([1, 6, 4, 5], y.Shape);
        // the layer is the op with its pairs (the op's per-axis cases are checked against PyTorch in Sharpgrad.Tests)
        Assert.Equal(Tensor.Conv2d(x, conv.Weight.Data, conv.Bias!.Data, (2, 1), (1, 0), 2).ToArray(), y.ToArray());
        Assert.Equal(Tensor.Conv2d(x, conv.Weight.Data, conv.Bias!.Data, (2, 1), (1, 0), 2).Relu().ToArray(), conv.ForwardRelu(x).ToArray());

        // the model file writes a pair as [height, width] and a square one as an int, and rebuilds the same layer
        var doc = ModelSpec.ToDocument(new Sequential(conv, new Conv2d(6, 6, 3, padding: 1)));
        var text = doc.ToJsonString();
        Assert.Contains("\"kernel_size\":[3,1],\"stride\":[2,1],\"padding\":[1,0]", text, StringComparison.Ordinal);
        Assert.Contains("\"kernel_size\":3,\"stride\":1,\"padding\":1", text, StringComparison.Ordinal);
        var rebuilt = ModelSpec.FromDocument(JsonNode.Parse(text), "pairs.json");
        Assert.Equal(text, ModelSpec.ToDocument(rebuilt).ToJsonString());

        // pooling takes pairs too (PyTorch 1.13: nn.MaxPool2d((2, 1)) on (1, 6, 4, 5) gives (1, 6, 2, 5))
        var pool = new MaxPool2d((2, 1));
        Assert.Equal("MaxPool2d(kernel_size=(2, 1), stride=(2, 1), padding=0)", pool.ToString());
        Assert.Equal([1, 6, 2, 5], pool.Forward(y).Shape);
        Assert.Equal(y.MaxPool2d((2, 1), (2, 1), (0, 0)).ToArray(), pool.Forward(y).ToArray());
        var pools = ModelSpec.ToDocument(new Sequential(pool, new AvgPool2d((3, 1), (1, 1), (1, 0)), new MaxPool2d(2))).ToJsonString();
        Assert.Contains("{\"type\":\"MaxPool2d\",\"kernel_size\":[2,1],\"stride\":[2,1],\"padding\":0}", pools, StringComparison.Ordinal);
        Assert.Contains("{\"type\":\"MaxPool2d\",\"kernel_size\":2,\"stride\":2,\"padding\":0}", pools, StringComparison.Ordinal);
        Assert.Equal(pools, ModelSpec.ToDocument(ModelSpec.FromDocument(JsonNode.Parse(pools), "pools.json")).ToJsonString());

        // the summary counts KH * KW
        var summary = ModelSummary.Create(new Sequential(conv), [4, 7, 5]);
        Assert.True(42 == summary.TrainableParameters, string.Join("; ", summary.Rows.Select(r => $"{r.Name} {r.Layer} {r.Parameters} {r.Macs}")));
        var row = Assert.Single(summary.Rows, r => r.Parameters > 0);
        Assert.Equal(6L * 4 * 5 * 2 * 3 * 1, row.Macs);
    }
}
