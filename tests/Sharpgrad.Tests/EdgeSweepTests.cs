using System.Globalization;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace Sharpgrad.Tests;

/// <summary>What a case checks (the fixture's "kind").</summary>
public enum EdgeKind
{
    /// <summary>Inputs, output and gradients stored; one forward and one backward with the fixed upstream.</summary>
    Plain,

    /// <summary>A unary op at every length 1..67 on the first n of 67 stored values (vector body and scalar tail).</summary>
    Lengths,

    /// <summary>An input of more than 10^6 elements from <see cref="EdgeSweepTests.Formula"/>; output (sampled) only.</summary>
    Formula,

    /// <summary>PyTorch raises; Sharpgrad must throw an ArgumentException.</summary>
    Error,
}

/// <summary>
/// The Sharpgrad side of one edge case. <paramref name="RelativeOnly"/>: the forward comparison has no absolute
/// tolerance (the values are tiny or all of one small scale, so atol 1e-6 would let any answer pass).
/// </summary>
public sealed record EdgeCase(string Name, EdgeKind Kind, Func<Tensor[], Tensor> Fn, bool[]? Differentiable = null,
    int[]? Targets = null, bool RelativeOnly = false);

/// <summary>
/// An edge-case sweep in the spirit of PyTorch's OpInfo, against tools/make_fixtures.py's edges_main()
/// (Fixtures/edges.json): element-wise ops, reductions, softmax, losses, pooling and batch norm at 0, -0,
/// denormals, tiny, huge, +-inf, NaN and ties, float32 and float64, forward and gradient. The case names and the
/// loops that make them mirror the Python ones.
///
/// Comparison: NaN equals NaN, an infinity must be matched by the same infinity, +0 and -0 are equal; otherwise
/// |expected - actual| &lt;= atol + rtol |expected|. float32: forward atol 1e-6 / rtol 1e-3, gradients atol 1e-4 /
/// rtol 1e-3 (the project's standard). float64: atol 1e-14 / rtol 1e-9 for both: both sides compute in double with
/// a few ulp (2.2e-16 relative) of rounding per op, and sums of up to 1.1e6 terms in different orders stay near
/// n eps = 2.5e-10 relative, so 1e-9 passes any correct double implementation while anything that computes in
/// float32 (6e-8 relative) or loses the last digits to cancellation fails; atol 1e-14 only absorbs rounding of
/// values that cancel to about zero from O(1) terms (softmax gradients). Lengths-of-small-values and large softmax
/// cases compare their forward with atol 0 (see <see cref="EdgeCase.RelativeOnly"/>).
/// </summary>
public sealed class EdgeSweepTests(ITestOutputHelper output)
{
    private static readonly Lazy<JsonElement> Fixture = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "edges.json"))).RootElement);

    private static readonly Lazy<Dictionary<string, JsonElement>> ByName = new(() =>
        Fixture.Value.GetProperty("cases").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!));

    public const int Lengths = 67;

    /// <summary>The upstream gradient, element i: 1, -0.5, 2, 0.25, 1, ... (make_fixtures.py's UPSTREAM).</summary>
    public static readonly double[] UpstreamPattern = [1.0, -0.5, 2.0, 0.25];

    /// <summary>
    /// What is not compared, and why: each entry is (case, what is not compared, reason). Printed by every test it
    /// concerns and by <see cref="UnspecifiedBehaviourIsListed"/>.
    /// </summary>
    public static readonly (string Case, string NotCompared, string Reason, int[] SkipForward)[] Unspecified =
    [
        .. new[] { "f32", "f64" }.Select(dt => ($"max_pool2d_k2_{dt}",
            "which element of a window receives the gradient when the window holds tied maxima (3.0 four times, 9.0 twice, 0 and -0, only -inf) or two NaNs; checked instead: the window's gradient total matches PyTorch and exactly one element, one that holds the maximum (a NaN when the output is NaN), receives it",
            "PyTorch documents no tie-breaking for max_pool2d; its CPU kernel keeps the first of tied maxima but the last of several NaNs, Sharpgrad keeps the first of both",
            Array.Empty<int>())),
    ];

    private static readonly Dictionary<string, Func<Tensor, Tensor>> Unary = new()
    {
        ["neg"] = x => -x,
        ["exp"] = x => x.Exp(),
        ["log"] = x => x.Log(),
        ["sqrt"] = x => x.Sqrt(),
        ["abs"] = x => x.Abs(),
        ["pow2"] = x => x.Pow(2),
        ["pow3"] = x => x.Pow(3),
        ["pow_half"] = x => x.Pow(0.5),
        ["pow_neg1"] = x => x.Pow(-1),
        ["clamp"] = x => x.Clamp(-0.5, 0.5),
        ["clamp_min"] = x => x.Clamp(min: -0.5),
        ["sigmoid"] = x => x.Sigmoid(),
        ["tanh"] = x => x.Tanh(),
        ["relu"] = x => x.Relu(),
        ["step"] = x => x.Step(),
    };

    private static readonly string[] SmallSigned = ["tanh", "sigmoid", "exp", "neg", "abs", "relu"];
    private static readonly string[] SmallPos = ["log", "sqrt", "pow_half", "pow_neg1"];

    private static readonly Dictionary<string, Func<Tensor, Tensor, Tensor>> Binary = new()
    {
        ["add"] = (a, b) => a + b,
        ["sub"] = (a, b) => a - b,
        ["mul"] = (a, b) => a * b,
        ["div"] = (a, b) => a / b,
    };

    // cross-entropy targets (make_fixtures.py's ce_rows and CE_MEAN_ROWS)
    private static readonly int[] CeRowTargets = [0, 1, 0, 2, 0, 2, 0, 1, 2, 0, 1, 0, 0];
    private static readonly int[] CeMeanRows = [0, 1, 8, 10, 12];

    /// <summary>Every case, keyed by the fixture's name.</summary>
    public static readonly Dictionary<string, EdgeCase> Table = Build().ToDictionary(c => c.Name);

    private static IEnumerable<EdgeCase> Build()
    {
        foreach (var dt in new[] { "f32", "f64" })
        {
            foreach (var (op, f) in Unary) yield return new($"{op}_edges_{dt}", EdgeKind.Plain, x => f(x[0]));
            foreach (var (op, f) in Unary) yield return new($"{op}_lengths_mixed_{dt}", EdgeKind.Lengths, x => f(x[0]));
            foreach (var op in SmallSigned.Concat(SmallPos))
                yield return new($"{op}_lengths_small_{dt}", EdgeKind.Lengths, x => Unary[op](x[0]), RelativeOnly: true);
            foreach (var (op, f) in Binary) yield return new($"{op}_grid_{dt}", EdgeKind.Plain, x => f(x[0], x[1]));

            yield return new($"sum_rows_{dt}", EdgeKind.Plain, x => x[0].Sum(1));
            yield return new($"mean_rows_{dt}", EdgeKind.Plain, x => x[0].Mean(1));
            yield return new($"max_rows_{dt}", EdgeKind.Plain, x => x[0].Max(1));
            yield return new($"softmax_rows_{dt}", EdgeKind.Plain, x => x[0].Softmax(1));
            yield return new($"log_softmax_rows_{dt}", EdgeKind.Plain, x => x[0].LogSoftmax(1));
            for (int ax = 0; ax < 3; ax++)
            {
                int a = ax;
                yield return new($"sum_3d_axis{a}_{dt}", EdgeKind.Plain, x => x[0].Sum(a));
                yield return new($"mean_3d_axis{a}_{dt}", EdgeKind.Plain, x => x[0].Mean(a));
                yield return new($"max_3d_axis{a}_{dt}", EdgeKind.Plain, x => x[0].Max(a));
                yield return new($"softmax_3d_axis{a}_{dt}", EdgeKind.Plain, x => x[0].Softmax(a));
                yield return new($"log_softmax_3d_axis{a}_{dt}", EdgeKind.Plain, x => x[0].LogSoftmax(a));
            }
            yield return new($"sum_3d_all_{dt}", EdgeKind.Plain, x => x[0].Sum());
            yield return new($"mean_3d_all_{dt}", EdgeKind.Plain, x => x[0].Mean());
            yield return new($"max_3d_all_{dt}", EdgeKind.Plain, x => x[0].Max());

            string[] sumLayouts = ["all", "axis0", "axis1", "axis2", "long_rows", "long_cols", "longer_cols"];
            string[] softLayouts = ["axis0", "axis1", "axis2", "long_rows", "long_cols"];
            foreach (var op in new[] { "sum", "mean", "softmax", "log_softmax" })
            {
                string[] variants = op is "sum" or "mean" ? ["centered", "offset"] : ["centered", "wide"];
                foreach (var variant in variants)
                    foreach (var layout in op is "sum" or "mean" ? sumLayouts : softLayouts)
                    {
                        int? axis = layout switch { "all" => null, "axis0" or "long_cols" or "longer_cols" => 0, "long_rows" or "axis1" => 1, _ => 2 };
                        Func<Tensor, Tensor> f = op switch
                        {
                            "sum" => x => axis is int a ? x.Sum(a) : x.Sum(),
                            "mean" => x => axis is int a ? x.Mean(a) : x.Mean(),
                            "softmax" => x => x.Softmax(axis!.Value),
                            _ => x => x.LogSoftmax(axis!.Value),
                        };
                        // softmax outputs are all positive and can be as small as 1e-6 (a row of 557,568): atol 0
                        yield return new($"{op}_large_{variant}_{layout}_{dt}", EdgeKind.Formula, x => f(x[0]), RelativeOnly: op == "softmax");
                    }
            }

            yield return new($"mse_grid_{dt}", EdgeKind.Plain, x => Losses.Mse(x[0], x[1], Reduction.None));
            yield return new($"mse_mean_{dt}", EdgeKind.Plain, x => Losses.Mse(x[0], x[1]));
            yield return new($"bce_grid_{dt}", EdgeKind.Plain, x => Losses.BinaryCrossEntropy(x[0], x[1], Reduction.None), [true, false]);
            yield return new($"bce_mean_{dt}", EdgeKind.Plain, x => Losses.BinaryCrossEntropy(x[0], x[1]), [true, false]);
            yield return new($"bce_nan_error_{dt}", EdgeKind.Error, x => Losses.BinaryCrossEntropy(x[0], x[1]));
            yield return new($"bce_above_one_error_{dt}", EdgeKind.Error, x => Losses.BinaryCrossEntropy(x[0], x[1]));
            yield return new($"bce_logits_grid_{dt}", EdgeKind.Plain, x => Losses.BinaryCrossEntropyWithLogits(x[0], x[1], Reduction.None));
            yield return new($"bce_logits_mean_{dt}", EdgeKind.Plain, x => Losses.BinaryCrossEntropyWithLogits(x[0], x[1]));
            yield return new($"cross_entropy_rows_{dt}", EdgeKind.Plain, x => Losses.CrossEntropy(x[0], CeRowTargets, Reduction.None), Targets: CeRowTargets);
            int[] meanTargets = [.. CeMeanRows.Select(i => CeRowTargets[i])];
            yield return new($"cross_entropy_mean_{dt}", EdgeKind.Plain, x => Losses.CrossEntropy(x[0], meanTargets), Targets: meanTargets);

            yield return new($"max_pool2d_k2_{dt}", EdgeKind.Plain, x => x[0].MaxPool2d(2));
            yield return new($"max_pool2d_k3s2p1_{dt}", EdgeKind.Plain, x => x[0].MaxPool2d(3, 2, 1));
            yield return new($"avg_pool2d_k2_{dt}", EdgeKind.Plain, x => x[0].AvgPool2d(2));
            yield return new($"avg_pool2d_k3s2p1_{dt}", EdgeKind.Plain, x => x[0].AvgPool2d(3, 2, 1));

            yield return new($"batch_norm_train_edges_{dt}", EdgeKind.Plain, x => Tensor.BatchNorm(x[0], null, null, x[1], x[2], training: true));
            yield return new($"batch_norm_single_value_error_{dt}", EdgeKind.Error, x => Tensor.BatchNorm(x[0], null, null, null, null, training: true));
            yield return new($"batch_norm_single_value_4d_error_{dt}", EdgeKind.Error, x => Tensor.BatchNorm(x[0], null, null, null, null, training: true));
        }
    }

    public static TheoryData<string> Cases()
    {
        var d = new TheoryData<string>();
        foreach (var name in Table.Keys) d.Add(name);
        return d;
    }

    /// <summary>x_i = ((i * 7919) mod 1000) / 1000 * scale + offset in double (the same operations as Python).</summary>
    public static double[] Formula(int n, double scale, double offset)
    {
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = (double)((long)i * 7919 % 1000) / 1000 * scale + offset;
        return x;
    }

    [Fact]
    public void FixtureCasesAndTheTableAreTheSameSet()
    {
        var names = ByName.Value.Keys.ToHashSet();
        Assert.Empty(names.Except(Table.Keys).Order());
        Assert.Empty(Table.Keys.Except(names).Order());
        Assert.Equal(Lengths, Fixture.Value.GetProperty("lengths").GetInt32());
        Assert.Equal(UpstreamPattern, Fixture.Value.GetProperty("upstream_pattern").EnumerateArray().Select(e => e.GetDouble()));
        foreach (var (name, c) in Table)
        {
            var fx = ByName.Value[name];
            Assert.Equal(c.Kind.ToString(), fx.GetProperty("kind").GetString(), StringComparer.OrdinalIgnoreCase);
            if (c.Targets is not null) Assert.Equal(c.Targets, fx.GetProperty("targets").EnumerateArray().Select(e => e.GetInt32()));
            else Assert.False(fx.TryGetProperty("targets", out _), $"{name}: the fixture has targets the table lacks");
        }
    }

    [Fact]
    public void UnspecifiedBehaviourIsListed()
    {
        output.WriteLine($"{Unspecified.Length} (case, not compared, reason) entries:");
        foreach (var (c, what, why, _) in Unspecified)
        {
            Assert.True(Table.ContainsKey(c), $"unspecified-behaviour entry for unknown case {c}");
            output.WriteLine($"- {c}: not compared: {what}. Reason: {why}.");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name)
    {
        var c = Table[name];
        var fx = ByName.Value[name];
        var dtype = fx.GetProperty("dtype").GetString() == "f32" ? DType.Float32 : DType.Float64;
        foreach (var u in Unspecified.Where(u => u.Case == name)) output.WriteLine($"{name}: not compared: {u.NotCompared}. Reason: {u.Reason}.");
        var failures = new List<string>();
        switch (c.Kind)
        {
            case EdgeKind.Plain: RunPlain(c, fx, dtype, failures); break;
            case EdgeKind.Lengths: RunLengths(c, fx, dtype, failures); break;
            case EdgeKind.Formula: RunFormula(c, fx, dtype, failures); break;
            default:
                var inputs = Inputs(fx, dtype, null);
                var e = Assert.ThrowsAny<ArgumentException>(() => c.Fn(inputs));
                output.WriteLine($"{name}: PyTorch: {fx.GetProperty("error").GetString()}; Sharpgrad: {e.GetType().Name}: {e.Message}");
                break;
        }
        foreach (var f in failures) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} mismatches:\n" + string.Join("\n", failures.Take(40)));
    }

    private static (double Atol, double Rtol) Tolerance(DType dtype, bool grad, bool relativeOnly)
    {
        if (dtype == DType.Float64) return (relativeOnly && !grad ? 0 : 1e-14, 1e-9);
        if (grad) return (1e-4, 1e-3);
        return (relativeOnly ? 0 : 1e-6, 1e-3);
    }

    private static Tensor[] Inputs(JsonElement fx, DType dtype, EdgeCase? c)
    {
        var specs = fx.GetProperty("inputs").EnumerateArray().ToArray();
        if (c?.Differentiable is { } diff) Assert.Equal(diff, specs.Select(s => s.GetProperty("grad").GetBoolean()));
        return [.. specs.Select(s => Make(Decode(s.GetProperty("data").GetString()!, dtype), dtype, Ints(s.GetProperty("shape")))
            .RequiresGrad_(c is not null && s.GetProperty("grad").GetBoolean()))];
    }

    private static void RunPlain(EdgeCase c, JsonElement fx, DType dtype, List<string> failures)
    {
        var inputs = Inputs(fx, dtype, c);
        var y = c.Fn(inputs);
        var expected = fx.GetProperty("output");
        Assert.Equal(Ints(expected.GetProperty("shape")), y.Shape);
        Assert.Equal(dtype, y.DType);
        var ey = Decode(expected.GetProperty("data").GetString()!, dtype);
        var ay = y.ToDoubleArray();
        foreach (int i in Unspecified.Where(u => u.Case == c.Name).SelectMany(u => u.SkipForward)) ey[i] = ay[i] = 0;
        Compare($"{c.Name} forward", ey, ay, Tolerance(dtype, false, c.RelativeOnly), failures);
        y.Backward(Make(Upstream(y.NumElements), dtype, y.Shape));
        var grads = fx.GetProperty("grads").EnumerateArray().ToArray();
        bool route = fx.TryGetProperty("flags", out var flags) && flags.EnumerateArray().Any(f => f.GetString() == "route_unspecified");
        for (int i = 0; i < inputs.Length; i++)
        {
            if (grads[i].ValueKind == JsonValueKind.Null) continue;
            var g = inputs[i].Grad;
            Assert.True(g is not null, $"{c.Name}: input {i} got no gradient");
            var eg = Decode(grads[i].GetString()!, dtype);
            if (route) ComparePoolRouting(c.Name, inputs[i], ey, eg, g!.ToDoubleArray(), Tolerance(dtype, true, false), failures);
            else Compare($"{c.Name} grad {i}", eg, g!.ToDoubleArray(), Tolerance(dtype, true, false), failures);
        }
    }

    private static void RunLengths(EdgeCase c, JsonElement fx, DType dtype, List<string> failures)
    {
        var x = Decode(fx.GetProperty("input").GetString()!, dtype);
        var ey = Decode(fx.GetProperty("output").GetString()!, dtype);
        var eg = Decode(fx.GetProperty("grad").GetString()!, dtype);
        Assert.Equal(Lengths, x.Length);
        for (int n = 1; n <= Lengths; n++)
        {
            var xt = Make(x[..n], dtype, [n]).RequiresGrad_();
            var y = c.Fn([xt]);
            Compare($"{c.Name} n={n} forward", ey[..n], y.ToDoubleArray(), Tolerance(dtype, false, c.RelativeOnly), failures, x[..n]);
            y.Backward(Make(Upstream(n), dtype, [n]));
            Compare($"{c.Name} n={n} grad", eg[..n], xt.Grad!.ToDoubleArray(), Tolerance(dtype, true, false), failures, x[..n]);
        }
    }

    private void RunFormula(EdgeCase c, JsonElement fx, DType dtype, List<string> failures)
    {
        var f = fx.GetProperty("formula");
        var shape = Ints(f.GetProperty("shape"));
        var x = Formula(shape.Aggregate(1, (a, b) => a * b), f.GetProperty("scale").GetDouble(), f.GetProperty("offset").GetDouble());
        var y = c.Fn([Make(x, dtype, shape)]);
        var expected = fx.GetProperty("output");
        Assert.Equal(Ints(expected.GetProperty("shape")), y.Shape);
        int stride = expected.GetProperty("stride").GetInt32();
        var all = y.ToDoubleArray();
        var sampled = new double[(all.Length + stride - 1) / stride];
        for (int i = 0; i < sampled.Length; i++) sampled[i] = all[i * stride];
        var ey = Decode(expected.GetProperty("data").GetString()!, dtype);
        Compare($"{c.Name} forward (every {stride}th output)", ey, sampled, Tolerance(dtype, false, c.RelativeOnly), failures);
        output.WriteLine($"{c.Name}: largest relative difference {ey.Zip(sampled, (e, a) => e == 0 ? 0 : Math.Abs(e - a) / Math.Abs(e)).Max():E2} over {ey.Length} outputs");
    }

    // 2x2 stride-2 max pooling: a window with no tie and at most one NaN is compared element by element; in one with
    // tied maxima or several NaNs, only the total and that exactly one maximal element (NaN if y is NaN) receives it
    private static void ComparePoolRouting(string name, Tensor x, double[] ey, double[] eg, double[] ag, (double Atol, double Rtol) tol, List<string> failures)
    {
        var xs = x.ToDoubleArray();
        int planes = x.Shape[0] * x.Shape[1], h = x.Shape[2], w = x.Shape[3], oh = h / 2, ow = w / 2;
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int[] at = [.. new[] { (0, 0), (0, 1), (1, 0), (1, 1) }.Select(d => p * h * w + (2 * i + d.Item1) * w + 2 * j + d.Item2)];
                    double y = ey[p * oh * ow + i * ow + j];
                    int nans = at.Count(k => double.IsNaN(xs[k]));
                    bool ambiguous = nans >= 2 || (nans == 0 && at.Count(k => xs[k] == y) >= 2);
                    string where = $"{name} grad window (plane {p}, {i}, {j})";
                    if (!ambiguous)
                    {
                        Compare(where, [.. at.Select(k => eg[k])], [.. at.Select(k => ag[k])], tol, failures);
                        continue;
                    }
                    Compare(where + " total", [at.Sum(k => eg[k])], [at.Sum(k => ag[k])], tol, failures);
                    var got = at.Where(k => ag[k] != 0).ToArray();
                    if (got.Length != 1 || !(xs[got[0]] == y || (double.IsNaN(y) && double.IsNaN(xs[got[0]]))))
                        failures.Add($"{where}: the gradient went to {got.Length} elements ({string.Join(", ", got.Select(k => Fmt(xs[k])))}), expected one holding the maximum {Fmt(y)}");
                }
    }

    /// <summary>NaN equals NaN, infinities match exactly, +-0 are equal, else |e - a| &lt;= atol + rtol |e|.</summary>
    internal static bool Close(double e, double a, double atol, double rtol)
    {
        if (double.IsNaN(e) || double.IsNaN(a)) return double.IsNaN(e) && double.IsNaN(a);
        if (double.IsInfinity(e) || double.IsInfinity(a)) return e == a;
        return Math.Abs(e - a) <= atol + rtol * Math.Abs(e);
    }

    private static void Compare(string what, double[] expected, double[] actual, (double Atol, double Rtol) tol, List<string> failures, double[]? inputs = null)
    {
        if (expected.Length != actual.Length)
        {
            failures.Add($"{what}: {actual.Length} values, expected {expected.Length}");
            return;
        }
        for (int i = 0; i < expected.Length; i++)
            if (!Close(expected[i], actual[i], tol.Atol, tol.Rtol))
                failures.Add($"{what}: [{i}]{(inputs is null ? "" : $" x = {Fmt(inputs[i])}")}: expected {Fmt(expected[i])}, got {Fmt(actual[i])}");
    }

    private static string Fmt(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static double[] Upstream(int n)
    {
        var u = new double[n];
        for (int i = 0; i < n; i++) u[i] = UpstreamPattern[i % UpstreamPattern.Length];
        return u;
    }

    private static Tensor Make(double[] v, DType dtype, int[] shape) =>
        (dtype == DType.Float64 ? Tensor.FromArray(v) : Tensor.FromArray(v.Select(d => (float)d).ToArray())).Reshape(shape);

    /// <summary>Concatenated big-endian bit patterns: 8 hex digits per float32, 16 per float64 (exact, NaN and -0 included).</summary>
    internal static double[] Decode(string hex, DType dtype)
    {
        int w = dtype == DType.Float32 ? 8 : 16;
        Assert.Equal(0, hex.Length % w);
        var r = new double[hex.Length / w];
        for (int i = 0; i < r.Length; i++)
        {
            var s = hex.AsSpan(i * w, w);
            r[i] = dtype == DType.Float32
                ? BitConverter.UInt32BitsToSingle(uint.Parse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture))
                : BitConverter.UInt64BitsToDouble(ulong.Parse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
        }
        return r;
    }

    private static int[] Ints(JsonElement e) => [.. e.EnumerateArray().Select(v => v.GetInt32())];
}
