using System.Text;
using Sharpgrad.NN;
using Xunit;
using Xunit.Abstractions;

namespace Sharpgrad.Onnx.Tests;

/// <summary>
/// ONNX's backend node tests (Debian's libonnx-testdata, ONNX 1.12) as a peer test suite: every test whose operators
/// the importer supports runs on each of its data sets and must match ONNX's reference outputs at ONNX's tolerance
/// (|actual - expected| &lt;= 1e-7 + 1e-3 |expected|, integers exactly).
/// </summary>
public sealed class NodeTests(ITestOutputHelper output)
{
    public const string Root = "/usr/share/libonnx-testdata/data/node";

    /// <summary>The families the acceptance counts, by the prefix of their tests' names (after "test_").</summary>
    public static readonly Dictionary<string, string> Families = new(StringComparer.Ordinal)
    {
        ["conv"] = "Conv", ["basic_conv"] = "Conv", ["maxpool"] = "MaxPool", ["averagepool"] = "AveragePool",
        ["globalaveragepool"] = "GlobalAveragePool", ["batchnorm"] = "BatchNormalization", ["relu"] = "Relu",
        ["leakyrelu"] = "LeakyRelu", ["sigmoid"] = "Sigmoid", ["tanh"] = "Tanh", ["softmax"] = "Softmax",
        ["logsoftmax"] = "LogSoftmax", ["gemm"] = "Gemm", ["matmul"] = "MatMul", ["add"] = "Add", ["sub"] = "Sub",
        ["mul"] = "Mul", ["div"] = "Div", ["flatten"] = "Flatten", ["reshape"] = "Reshape", ["transpose"] = "Transpose",
        ["concat"] = "Concat",
    };

    private sealed record Outcome(string Test, string? Family, bool Attempted, string? Skip, string? Failure);

    private static string? FamilyOf(string test)
    {
        string name = test["test_".Length..];
        foreach (var (prefix, family) in Families)
            if (name == prefix || name.StartsWith(prefix + "_", StringComparison.Ordinal)) return family;
        return null;
    }

    /// <summary>A node test whose name says 1-D or 3-D (the acceptance counts the 2-D ones).</summary>
    public static bool IsOtherThan2d(string test) => test.Contains("_1d", StringComparison.Ordinal) || test.Contains("_3d", StringComparison.Ordinal);

    [Fact]
    public void EveryNodeTestOfASupportedOperatorMatchesOnnxReference()
    {
        Assert.True(Directory.Exists(Root),
            $"ONNX's node tests are not installed ({Root} is missing): run `apt-get install libonnx-testdata` (Debian/Ubuntu) and rerun.");
        var outcomes = Directory.GetDirectories(Root).Order(StringComparer.Ordinal).Select(Run).Where(o => o is not null).Select(o => o!).ToList();

        var report = new StringBuilder();
        var family = outcomes.Where(o => o.Family is not null).ToList();
        var twoD = family.Where(o => !IsOtherThan2d(o.Test)).ToList();
        int attempted = outcomes.Count(o => o.Attempted), passed = outcomes.Count(o => o.Attempted && o.Failure is null);
        report.AppendLine($"node tests: {passed} passed of {attempted} attempted (every test whose operators the importer supports)");
        report.AppendLine($"acceptance families: {family.Count(o => o.Attempted && o.Failure is null)} passed of {family.Count(o => o.Attempted)} attempted, of {family.Count} tests; 2-D: {twoD.Count(o => o.Attempted)} attempted of {twoD.Count}");
        foreach (var g in family.GroupBy(o => o.Family).OrderBy(g => g.Key, StringComparer.Ordinal))
            report.AppendLine($"  {g.Key}: {g.Count(o => o.Attempted && o.Failure is null)}/{g.Count(o => o.Attempted)} passed, {g.Count(o => !o.Attempted)} skipped");
        report.AppendLine("skipped tests (supported operators; an attribute, input or element type outside the supported set):");
        foreach (var o in outcomes.Where(o => !o.Attempted)) report.AppendLine($"  {o.Test}: {o.Skip}");
        var failures = outcomes.Where(o => o.Failure is not null).ToList();
        foreach (var o in failures) report.AppendLine($"FAILED {o.Test}: {o.Failure}");
        output.WriteLine(report.ToString());

        Assert.True(failures.Count == 0, $"{failures.Count} node tests do not match ONNX's reference:\n" + string.Join("\n", failures.Select(f => $"{f.Test}: {f.Failure}")));
        Assert.True(twoD.Count(o => o.Attempted) >= 0.9 * twoD.Count, $"only {twoD.Count(o => o.Attempted)} of the acceptance families' {twoD.Count} 2-D tests ran:\n{report}");
        Assert.True(attempted >= 200, $"expected at least 200 node tests to run, {attempted} did");
    }

    // null: a test of an operator outside the supported set and outside the acceptance families
    private static Outcome? Run(string dir)
    {
        string test = Path.GetFileName(dir);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dir, "model.onnx")));
        string? family = FamilyOf(test);
        var missing = model.Graph.Node.Select(n => n.OpType).Where(op => !OnnxModel.SupportedOperators.Contains(op)).Distinct().ToList();
        if (missing.Count > 0)
            return family is null ? null : new Outcome(test, family, false, $"operator {string.Join(", ", missing)} is not supported", null);
        OnnxModel m;
        try
        {
            m = OnnxModel.Load(Path.Combine(dir, "model.onnx"));
        }
        catch (DataException e)
        {
            return new Outcome(test, family, false, e.Message[(e.Message.IndexOf(": ", StringComparison.Ordinal) + 2)..], null);
        }
        foreach (var set in Directory.GetDirectories(dir, "test_data_set_*").Order(StringComparer.Ordinal))
        {
            OnnxValue[] inputs, expected;
            try
            {
                inputs = Read(set, "input", model.Graph.Input.Count(i => model.Graph.Initializer.All(t => t.Name != i.Name)));
                expected = Read(set, "output", model.Graph.Output.Count);
            }
            catch (FormatException e)
            {
                return new Outcome(test, family, false, e.Message, null);
            }
            OnnxValue[] actual;
            try
            {
                actual = m.RunValues(inputs);
            }
            catch (ArgumentException e)
            {
                return new Outcome(test, family, true, null, $"{Path.GetFileName(set)}: {e.Message}");
            }
            catch (NotSupportedException e)
            {
                return new Outcome(test, family, false, e.Message, null);
            }
            for (int k = 0; k < expected.Length; k++)
                if (Compare(actual[k], expected[k]) is { } why)
                    return new Outcome(test, family, true, null, $"{Path.GetFileName(set)} output {k}: {why}");
        }
        return new Outcome(test, family, true, null, null);
    }

    private static OnnxValue[] Read(string set, string kind, int count) =>
        Enumerable.Range(0, count).Select(k =>
        {
            string path = Path.Combine(set, $"{kind}_{k}.pb");
            return OnnxTensors.Decode(TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)), Path.GetFileName(path));
        }).ToArray();

    /// <summary>Null when <paramref name="actual"/> matches at ONNX's tolerance, else why not.</summary>
    internal static string? Compare(OnnxValue actual, OnnxValue expected, double rtol = 1e-3, double atol = 1e-7)
    {
        if (!actual.Shape.SequenceEqual(expected.Shape))
            return $"shape [{string.Join(",", actual.Shape)}], expected [{string.Join(",", expected.Shape)}]";
        if (expected.Ints is { } ei)
        {
            if (actual.Ints is not { } ai) return $"a float output, expected {expected}";
            int bad = Enumerable.Range(0, ei.Length).FirstOrDefault(i => ai[i] != ei[i], -1);
            return bad < 0 ? null : $"element {bad} is {ai[bad]}, expected {ei[bad]}";
        }
        if (actual.Tensor is null) return $"an integer output, expected {expected}";
        var a = actual.Tensor.ToDoubleArray();
        var e = expected.Tensor!.ToDoubleArray();
        for (int i = 0; i < e.Length; i++)
        {
            if (double.IsNaN(e[i]) && double.IsNaN(a[i])) continue;
            if (e[i] == a[i]) continue; // equal infinities
            if (!(Math.Abs(a[i] - e[i]) <= atol + rtol * Math.Abs(e[i])))
                return $"element {i} is {a[i]:R}, expected {e[i]:R}";
        }
        return null;
    }
}
