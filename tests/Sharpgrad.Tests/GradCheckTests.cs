using Sharpgrad;
using Xunit;

namespace Sharpgrad.Tests;

/// <summary>Float64 central-difference gradient checks: |numeric - analytic| &lt;= 1e-5 + 1e-3 |analytic|.</summary>
public sealed class GradCheckTests
{
    public static TheoryData<string> Cases()
    {
        var d = new TheoryData<string>();
        foreach (var c in OpCases.All.Concat(OpCases.GradCheckOnly)) d.Add(c.Name);
        return d;
    }

    private static OpCase Find(string name) => OpCases.All.Concat(OpCases.GradCheckOnly).Single(c => c.Name == name);

    [Theory]
    [MemberData(nameof(Cases))]
    public void AnalyticGradientMatchesCentralDifference(string name)
    {
        var c = Find(name);
        for (ulong seed = 1; seed <= 2; seed++) GradCheck.Run(c, seed);
    }

    [Fact]
    public void EveryAutogradNodeHasAGradientCheck()
    {
        var covered = new HashSet<Type>();
        foreach (var c in OpCases.All.Concat(OpCases.GradCheckOnly))
        {
            var inputs = GradCheck.Inputs(c, 7);
            var y = c.Fn(inputs);
            Assert.NotNull(y.GradFn);
            var stack = new Stack<Node>([y.GradFn!]);
            while (stack.Count > 0)
            {
                var n = stack.Pop();
                if (covered.Add(n.GetType()))
                    foreach (var next in n.NextNodes) stack.Push(next);
                else
                    foreach (var next in n.NextNodes) if (!covered.Contains(next.GetType())) stack.Push(next);
            }
        }
        var all = typeof(Tensor).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(Node)) && !t.IsAbstract).ToList();
        var missing = all.Where(t => !covered.Contains(t)).Select(t => t.Name).OrderBy(s => s).ToList();
        Assert.True(missing.Count == 0, "Ops without a gradient-check case: " + string.Join(", ", missing));
        Assert.True(all.Count >= 25, $"expected the core's autograd nodes to be found by reflection, found {all.Count}");
    }
}

public static class GradCheck
{
    public static Tensor[] Inputs(OpCase c, ulong seed)
    {
        var g = new Generator(seed);
        return c.Inputs.Select(s => OpCases.Make(s, g, DType.Float64).RequiresGrad_(s.Differentiable)).ToArray();
    }

    public static void Run(OpCase c, ulong seed, double eps = 1e-6)
    {
        var inputs = Inputs(c, seed);
        var y = c.Fn(inputs);
        var u = Tensor.Randn(y.Shape, new Generator(seed + 100), DType.Float64);
        y.Backward(u);
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!c.Inputs[i].Differentiable) continue;
            var x = inputs[i];
            var analytic = x.Grad?.ToDoubleArray() ?? new double[x.NumElements];
            var data = x.AsSpan<double>();
            for (int j = 0; j < data.Length; j++)
            {
                double orig = data[j];
                data[j] = orig + eps;
                double fp = Objective(c, inputs, u);
                data = x.AsSpan<double>();
                data[j] = orig - eps;
                double fm = Objective(c, inputs, u);
                data[j] = orig;
                double numeric = (fp - fm) / (2 * eps);
                double tol = 1e-5 + 1e-3 * Math.Abs(analytic[j]);
                Assert.True(Math.Abs(numeric - analytic[j]) <= tol,
                    $"{c.Name} (seed {seed}): input {i} element {j}: numeric {numeric:R} vs analytic {analytic[j]:R}");
            }
        }
    }

    private static double Objective(OpCase c, Tensor[] inputs, Tensor u)
    {
        using var _ = Tensor.NoGrad();
        return c.Fn(inputs).Mul(u).Sum().Item();
    }
}
