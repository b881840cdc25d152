using System.Reflection;
using Xunit;

namespace Sharpgrad.Tests;

/// <summary>The layering rules of the README, checked on the compiled assemblies.</summary>
public sealed class ArchitectureTests
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static bool Mentions(Type t, Type banned) =>
        t == banned
        || (t.HasElementType && Mentions(t.GetElementType()!, banned))
        || (t.IsGenericType && t.GetGenericArguments().Any(a => Mentions(a, banned)));

    /// <summary>Every place a type's signature can mention another type (fields, properties, methods, constructors).</summary>
    private static IEnumerable<(string Where, Type Type)> Signatures(Type t)
    {
        foreach (var f in t.GetFields(All)) yield return ($"field {f.Name}", f.FieldType);
        foreach (var p in t.GetProperties(All)) yield return ($"property {p.Name}", p.PropertyType);
        foreach (var m in t.GetMethods(All))
        {
            yield return ($"{m.Name} returns", m.ReturnType);
            foreach (var a in m.GetParameters()) yield return ($"{m.Name}({a.Name})", a.ParameterType);
            foreach (var local in m.GetMethodBody()?.LocalVariables ?? []) yield return ($"{m.Name} local", local.LocalType);
        }
        foreach (var c in t.GetConstructors(All))
            foreach (var a in c.GetParameters()) yield return ($".ctor({a.Name})", a.ParameterType);
    }

    [Fact]
    public void KernelsNeverSeeTensor()
    {
        var kernels = typeof(Tensor).Assembly.GetTypes().Where(t => t.Namespace == "Sharpgrad.Kernels").ToList();
        Assert.NotEmpty(kernels);
        var seen = kernels.SelectMany(t => Signatures(t).Where(s => Mentions(s.Type, typeof(Tensor))).Select(s => $"{t.Name}.{s.Where}")).ToList();
        Assert.True(seen.Count == 0, "kernels that see Tensor (move them up into the core): " + string.Join(", ", seen));
    }

    [Fact]
    public void TheCheckFindsATensorInASignature()
    {
        // the check itself can fail: a type of this test assembly that takes a Tensor is found
        Assert.Contains(Signatures(typeof(Probe)), s => Mentions(s.Type, typeof(Tensor)));
    }

    private static class Probe
    {
        public static float[] Kernel(IReadOnlyList<Tensor> x) => x.Count == 0 ? [] : [0f];
    }
}
