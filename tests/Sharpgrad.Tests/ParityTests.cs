using System.Text.Json;
using Xunit;

namespace Sharpgrad.Tests;

/// <summary>
/// Float32 forward outputs (atol 1e-6, rtol 1e-3) and gradients (atol 1e-4, rtol 1e-3) against PyTorch fixtures
/// made by tools/make_fixtures.py.
/// </summary>
public sealed class ParityTests
{
    private static readonly Lazy<JsonElement> Fixture = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "ops.json"))).RootElement);

    public static TheoryData<string> Cases()
    {
        var d = new TheoryData<string>();
        foreach (var c in OpCases.All) d.Add(c.Name);
        return d;
    }

    [Fact]
    public void FixturesCoverEveryCaseAndNoOthers()
    {
        var names = Fixture.Value.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()).ToHashSet();
        Assert.Equal(OpCases.All.Select(c => c.Name).OrderBy(s => s), names.OrderBy(s => s));
        Assert.Equal(OpCases.Targets, Fixture.Value.GetProperty("targets").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var c = OpCases.All.Single(x => x.Name == name);
        var fx = Fixture.Value.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var inputs = fx.GetProperty("inputs").EnumerateArray().Select((e, i) =>
            Tensor.FromArray(Floats(e.GetProperty("data"))).Reshape(Ints(e.GetProperty("shape"))).RequiresGrad_(c.Inputs[i].Differentiable)).ToArray();
        var y = c.Fn(inputs);
        var expected = fx.GetProperty("output");
        Assert.Equal(Ints(expected.GetProperty("shape")), y.Shape);
        AssertClose(name + " forward", Floats(expected.GetProperty("data")), y.ToArray(), 1e-6, 1e-3);

        var u = Tensor.FromArray(Floats(fx.GetProperty("upstream"))).Reshape(y.Shape);
        y.Backward(u);
        var grads = fx.GetProperty("grads").EnumerateArray().ToArray();
        for (int i = 0; i < inputs.Length; i++)
        {
            if (grads[i].ValueKind == JsonValueKind.Null)
            {
                Assert.False(c.Inputs[i].Differentiable, $"{name}: PyTorch has no gradient for input {i}");
                continue;
            }
            Assert.NotNull(inputs[i].Grad);
            AssertClose($"{name} grad {i}", Floats(grads[i]), inputs[i].Grad!.ToArray(), 1e-4, 1e-3);
        }
    }

    internal static void AssertClose(string what, float[] expected, float[] actual, double atol, double rtol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            Assert.True(diff <= atol + rtol * Math.Abs(expected[i]), $"{what}: element {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();
}
