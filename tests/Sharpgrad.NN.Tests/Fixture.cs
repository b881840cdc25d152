using System.Text.Json;
using Xunit;

namespace Sharpgrad.NN.Tests;

internal static class Fixture
{
    private static readonly Lazy<JsonElement> Root = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "nn.json"))).RootElement);

    public static JsonElement Nn => Root.Value;

    public static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    public static int[] Ints(JsonElement e) => e.EnumerateArray().Select(v => v.GetInt32()).ToArray();

    public static void AssertClose(string what, float[] expected, float[] actual, double atol, double rtol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            Assert.True(diff <= atol + rtol * Math.Abs(expected[i]), $"{what}: element {i}: expected {expected[i]:R}, got {actual[i]:R}");
        }
    }
}
