using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>
/// The vector operations a kernel written once needs, implemented by a struct per width (<see cref="Lanes512{T}"/>,
/// <see cref="Lanes256{T}"/>, <see cref="Lanes1{T}"/> for scalar code). A kernel generic over the struct is compiled
/// once per width by the JIT, so the calls inline to the plain instructions.
/// </summary>
/// <typeparam name="TV">The register type (Vector512&lt;T&gt;, Vector256&lt;T&gt; or T).</typeparam>
/// <typeparam name="T">float or double.</typeparam>
internal interface ILanes<TV, T> where TV : struct where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Elements per register.</summary>
    static abstract int Count { get; }

    static abstract TV Zero { get; }

    static abstract TV Broadcast(T value);

    static abstract TV Load(ref T source, nuint index);

    static abstract void Store(TV value, ref T destination, nuint index);

    /// <summary>a b + c, fused (one rounding) where the hardware has FMA.</summary>
    static abstract TV MultiplyAdd(TV a, TV b, TV c);

    static abstract TV Add(TV a, TV b);

    /// <summary>The larger of each pair of lanes (NaN if either is NaN, as Math.Max).</summary>
    static abstract TV Max(TV a, TV b);

    /// <summary>The sum of the lanes, in lane order.</summary>
    static abstract T Sum(TV value);
}

/// <summary>512-bit registers (emulated by two 256-bit halves where AVX-512 is missing: the tests still run it).</summary>
internal readonly struct Lanes512<T> : ILanes<Vector512<T>, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;

    public static Vector512<T> Zero => Vector512<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Broadcast(T value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(ref T source, nuint index) => Vector512.LoadUnsafe(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> value, ref T destination, nuint index) => value.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> a, Vector512<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> a, Vector512<T> b) => Vector512.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> value) => Vector512.Sum(value);
}

/// <summary>256-bit registers (AVX2).</summary>
internal readonly struct Lanes256<T> : ILanes<Vector256<T>, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector256<T>.Count;

    public static Vector256<T> Zero => Vector256<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Broadcast(T value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(ref T source, nuint index) => Vector256.LoadUnsafe(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> value, ref T destination, nuint index) => value.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> a, Vector256<T> b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max(Vector256<T> a, Vector256<T> b) => Vector256.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector256<T> value) => Vector256.Sum(value);
}

/// <summary>One element per "register": the scalar path.</summary>
internal readonly struct Lanes1<T> : ILanes<T, T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => 1;

    public static T Zero => T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Broadcast(T value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Load(ref T source, nuint index) => Unsafe.Add(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(T value, ref T destination, nuint index) => Unsafe.Add(ref destination, index) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MultiplyAdd(T a, T b, T c) => T.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Add(T a, T b) => a + b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Max(T a, T b) => T.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(T value) => value;
}
