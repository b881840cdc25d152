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

    /// <summary>
    /// Span-level code in the core that lives outside Sharpgrad.Kernels, out of <see cref="KernelsNeverSeeTensor"/>'s
    /// reach: a type whose name ends in "Kernel", or one that implements an interface declared in Sharpgrad.Kernels
    /// (IUnaryOp, IBinaryOp, IReduction, ...).
    /// </summary>
    private static IEnumerable<string> KernelsOutsideTheKernelLayer(IEnumerable<Type> types)
    {
        foreach (var t in types)
        {
            if (t.Namespace == "Sharpgrad.Kernels" || t.IsDefined(typeof(System.Runtime.CompilerServices.CompilerGeneratedAttribute), false)) continue;
            var why = t.GetInterfaces().Where(i => i.Namespace == "Sharpgrad.Kernels").Select(i => "implements " + i.Name.Split('`')[0]).ToList();
            if (t.Name.Split('`')[0].EndsWith("Kernel", StringComparison.Ordinal)) why.Insert(0, "named a kernel");
            if (why.Count > 0) yield return $"{t.FullName} ({string.Join(", ", why)})";
        }
    }

    [Fact]
    public void EveryKernelOfTheCoreLivesInTheKernelLayer()
    {
        var outside = KernelsOutsideTheKernelLayer(typeof(Tensor).Assembly.GetTypes()).ToList();
        Assert.True(outside.Count == 0, "kernels outside Sharpgrad.Kernels (move them down; the op file keeps the op and its backward node): " + string.Join(", ", outside));
    }

    [Fact]
    public void TheCheckFindsATensorInASignature()
    {
        // the check itself can fail: a type of this test assembly that takes a Tensor is found
        Assert.Contains(Signatures(typeof(Probe)), s => Mentions(s.Type, typeof(Tensor)));
    }

    [Fact]
    public void TheCheckFindsKernelsOutsideTheKernelLayer()
    {
        // the check itself can fail: a type named a kernel and a kernel interface's implementation, both outside
        // Sharpgrad.Kernels, are found (and the kernel layer's own types are not)
        var found = KernelsOutsideTheKernelLayer([typeof(ProbeKernel), typeof(ProbeOp), typeof(Probe), typeof(Sharpgrad.Kernels.Strided)]).ToList();
        Assert.Equal(2, found.Count);
        Assert.Contains(found, f => f.Contains(nameof(ProbeKernel), StringComparison.Ordinal) && f.Contains("named a kernel", StringComparison.Ordinal));
        Assert.Contains(found, f => f.Contains(nameof(ProbeOp), StringComparison.Ordinal) && f.Contains("implements IUnaryOp", StringComparison.Ordinal));
    }

    private static class Probe
    {
        public static float[] Kernel(IReadOnlyList<Tensor> x) => x.Count == 0 ? [] : [0f];
    }

    private static class ProbeKernel
    {
        public static void Run(ReadOnlySpan<float> x, Span<float> y) => x.CopyTo(y);
    }

    private readonly struct ProbeOp : Sharpgrad.Kernels.IUnaryOp
    {
        public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T> => x.CopyTo(y);
    }
}
