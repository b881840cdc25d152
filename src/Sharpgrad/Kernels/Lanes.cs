using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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

    /// <summary>a * b, lane by lane (rounded once: with an Add after it, the roundings of two separate ops).</summary>
    static abstract TV Multiply(TV a, TV b);

    /// <summary>The larger of each pair of lanes (NaN if either is NaN, as Math.Max).</summary>
    static abstract TV Max(TV a, TV b);

    /// <summary>The sum of the lanes, in lane order.</summary>
    static abstract T Sum(TV value);

    /// <summary>
    /// Max of each pair of neighbouring lanes, packed into the lower half: lane i &lt; Count / 2 holds
    /// max(v[2i], v[2i + 1]) (a 2-wide max pooling of a row). Vector widths only.
    /// </summary>
    static abstract TV PairMax(TV value);

    /// <summary>
    /// Stores the first <paramref name="count"/> (at most Count / 2) lanes at <paramref name="destination"/> +
    /// <paramref name="index"/>, writing nothing past them (a masked store). Vector widths only.
    /// </summary>
    static abstract void StoreLower(TV value, ref T destination, nuint index, int count);

    /// <summary>
    /// Stores the lanes of <paramref name="value"/> that <paramref name="mask"/> (<see cref="FirstLanes"/>) selects at
    /// <paramref name="destination"/> + <paramref name="index"/>, writing nothing else (a masked store).
    /// </summary>
    static abstract void StoreMasked(TV value, ref T destination, nuint index, TV mask);

    /// <summary>A mask of the first <paramref name="count"/> (0 to Count) lanes, for <see cref="LoadMasked"/>.</summary>
    static abstract TV FirstLanes(int count);

    /// <summary>
    /// The elements at <paramref name="source"/> + <paramref name="index"/> in the lanes that <paramref name="mask"/>
    /// (<see cref="FirstLanes"/>) selects, zeros in the rest, reading nothing past them (a masked load).
    /// </summary>
    static abstract TV LoadMasked(ref T source, nuint index, TV mask);
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

    public static Vector512<T> Multiply(Vector512<T> a, Vector512<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> a, Vector512<T> b) => Vector512.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> value) => Vector512.Sum(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> PairMax(Vector512<T> value)
    {
        if (typeof(T) == typeof(float))
        {
            var v = value.As<T, float>();
            return Vector512.Max(Vector512.Shuffle(v, Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14)),
                Vector512.Shuffle(v, Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15))).As<float, T>();
        }
        throw new NotSupportedException($"PairMax: float32 only, got {typeof(T).Name}.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLower(Vector512<T> value, ref T destination, nuint index, int count)
    {
        if (count == Vector256<T>.Count) value.GetLower().StoreUnsafe(ref destination, index);
        else MaskedStore.Store(value.GetLower(), ref Unsafe.Add(ref destination, index), count);
    }

    public static Vector512<T> FirstLanes(int count) => MaskedStore.FirstLanes512<T>(count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreMasked(Vector512<T> value, ref T destination, nuint index, Vector512<T> mask) => MaskedStore.Store512(value, ref Unsafe.Add(ref destination, index), mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LoadMasked(ref T source, nuint index, Vector512<T> mask) => MaskedStore.Load512(ref Unsafe.Add(ref source, index), mask);
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

    public static Vector256<T> Multiply(Vector256<T> a, Vector256<T> b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max(Vector256<T> a, Vector256<T> b) => Vector256.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector256<T> value) => Vector256.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> PairMax(Vector256<T> value)
    {
        if (typeof(T) == typeof(float))
        {
            var v = value.As<T, float>();
            return Vector256.Max(Vector256.Shuffle(v, Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6)),
                Vector256.Shuffle(v, Vector256.Create(1, 3, 5, 7, 1, 3, 5, 7))).As<float, T>();
        }
        throw new NotSupportedException($"PairMax: float32 only, got {typeof(T).Name}.");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLower(Vector256<T> value, ref T destination, nuint index, int count)
    {
        if (count == Vector128<T>.Count) value.GetLower().StoreUnsafe(ref destination, index);
        else MaskedStore.Store(value.GetLower(), ref Unsafe.Add(ref destination, index), count);
    }

    public static Vector256<T> FirstLanes(int count) => MaskedStore.FirstLanes256<T>(count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreMasked(Vector256<T> value, ref T destination, nuint index, Vector256<T> mask) => MaskedStore.Store256(value, ref Unsafe.Add(ref destination, index), mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> LoadMasked(ref T source, nuint index, Vector256<T> mask) => MaskedStore.Load256(ref Unsafe.Add(ref source, index), mask);
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

    public static T Multiply(T a, T b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Max(T a, T b) => T.Max(a, b);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(T value) => value;

    public static T PairMax(T value) => throw new NotSupportedException("PairMax: needs vector lanes (a scalar has no pair).");

    public static void StoreLower(T value, ref T destination, nuint index, int count) => throw new NotSupportedException("StoreLower: needs vector lanes.");

    public static T FirstLanes(int count) => count > 0 ? T.One : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreMasked(T value, ref T destination, nuint index, T mask)
    {
        if (mask != T.Zero) Unsafe.Add(ref destination, index) = value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T LoadMasked(ref T source, nuint index, T mask) => mask != T.Zero ? Unsafe.Add(ref source, index) : T.Zero;
}

/// <summary>Stores and copies that touch exactly <c>count</c> elements (AVX masked moves; element by element without AVX).</summary>
internal static class MaskedStore
{
    /// <summary>
    /// Whether AVX's masked store (vmaskmovps) is microcoded here: AMD processors without AVX-512 (Zen 1-3) take it as
    /// tens of micro-ops, about 12 cycles a store, where Intel's is one or two; there the tails are stored in 4-, 2- and
    /// 1-float pieces instead. On a 2-core AMD EPYC without AVX-512 the depthwise stride-2 row split
    /// (DepthwiseConv2d.Deinterleave, all tail on 14- and 7-wide rows) took 13% of mobilenet's Predict with it.
    /// </summary>
    internal static readonly bool SlowMaskStore = Avx.IsSupported && !Avx512F.IsSupported && IsAmd();

    private static bool IsAmd()
    {
        if (!X86Base.IsSupported) return false;
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        return ebx == 0x68747541 && edx == 0x69746E65 && ecx == 0x444D4163; // "AuthenticAMD"
    }

    /// <summary>The first <paramref name="count"/> (0-8) lanes of <paramref name="value"/> to <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(Vector256<T> value, ref T destination, int count) where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(float) && SlowMaskStore)
        {
            StorePieces(value.AsSingle(), ref Unsafe.As<T, float>(ref destination), count);
            return;
        }
        Store256(value, ref destination, FirstLanes256<T>(count));
    }

    // the first count (0-8) floats of value to destination in 4-, 2- and 1-float stores (no masked store)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StorePieces(Vector256<float> value, ref float destination, int count)
    {
        var part = value.GetLower();
        if (count >= 4)
        {
            part.StoreUnsafe(ref destination);
            destination = ref Unsafe.Add(ref destination, 4);
            part = value.GetUpper();
            count -= 4;
            if (count == 4)
            {
                part.StoreUnsafe(ref destination);
                return;
            }
        }
        if (count >= 2)
        {
            Unsafe.WriteUnaligned(ref Unsafe.As<float, byte>(ref destination), part.AsDouble().ToScalar());
            destination = ref Unsafe.Add(ref destination, 2);
            part = Vector128.Shuffle(part, Vector128.Create(2, 3, 0, 1));
            count -= 2;
        }
        if (count == 1) destination = part.ToScalar();
    }

    /// <summary>The first <paramref name="count"/> (0-4) lanes of <paramref name="value"/> to <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(Vector128<T> value, ref T destination, int count) where T : unmanaged, INumber<T> =>
        Store(value.ToVector256Unsafe(), ref destination, count); // the upper lanes are masked off

    /// <summary>The lanes of <paramref name="value"/> that <paramref name="mask"/> sets, to <paramref name="destination"/>; nothing else is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store256<T>(Vector256<T> value, ref T destination, Vector256<T> mask) where T : unmanaged
    {
        if (Avx.IsSupported)
        {
            if (typeof(T) == typeof(float)) { fixed (T* p = &destination) Avx.MaskStore((float*)p, mask.AsSingle(), value.AsSingle()); return; }
            if (typeof(T) == typeof(double)) { fixed (T* p = &destination) Avx.MaskStore((double*)p, mask.AsDouble(), value.AsDouble()); return; }
        }
        for (int i = 0; i < Vector256<T>.Count; i++)
            if (!EqualityComparer<T>.Default.Equals(mask.GetElement(i), default)) Unsafe.Add(ref destination, i) = value.GetElement(i);
    }

    /// <summary>The lanes of <paramref name="value"/> that <paramref name="mask"/> sets, to <paramref name="destination"/>; nothing else is written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store512<T>(Vector512<T> value, ref T destination, Vector512<T> mask) where T : unmanaged
    {
        if (Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float)) { fixed (T* p = &destination) Avx512F.MaskStore((float*)p, mask.AsSingle(), value.AsSingle()); return; }
            if (typeof(T) == typeof(double)) { fixed (T* p = &destination) Avx512F.MaskStore((double*)p, mask.AsDouble(), value.AsDouble()); return; }
        }
        Store256(value.GetLower(), ref destination, mask.GetLower());
        Store256(value.GetUpper(), ref Unsafe.Add(ref destination, Vector256<T>.Count), mask.GetUpper());
    }

    /// <summary>All bits set in the first <paramref name="count"/> lanes.</summary>
    public static Vector256<T> FirstLanes256<T>(int count) where T : unmanaged, INumber<T> => Vector256.LessThan(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(count)));

    /// <summary>All bits set in the first <paramref name="count"/> lanes.</summary>
    public static Vector512<T> FirstLanes512<T>(int count) where T : unmanaged, INumber<T> => Vector512.LessThan(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(count)));

    /// <summary>The elements at <paramref name="source"/> in the lanes <paramref name="mask"/> sets, zeros elsewhere; nothing else is read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<T> Load256<T>(ref T source, Vector256<T> mask) where T : unmanaged
    {
        if (Avx.IsSupported)
        {
            if (typeof(T) == typeof(float)) fixed (T* p = &source) return Avx.MaskLoad((float*)p, mask.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) fixed (T* p = &source) return Avx.MaskLoad((double*)p, mask.AsDouble()).As<double, T>();
        }
        var v = Vector256<T>.Zero;
        for (int i = 0; i < Vector256<T>.Count; i++)
            if (!EqualityComparer<T>.Default.Equals(mask.GetElement(i), default)) v = v.WithElement(i, Unsafe.Add(ref source, i));
        return v;
    }

    /// <summary>The elements at <paramref name="source"/> in the lanes <paramref name="mask"/> sets, zeros elsewhere; nothing else is read.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector512<T> Load512<T>(ref T source, Vector512<T> mask) where T : unmanaged
    {
        if (Avx512F.IsSupported)
        {
            if (typeof(T) == typeof(float)) fixed (T* p = &source) return Avx512F.MaskLoad((float*)p, mask.AsSingle(), Vector512<float>.Zero).As<float, T>();
            if (typeof(T) == typeof(double)) fixed (T* p = &source) return Avx512F.MaskLoad((double*)p, mask.AsDouble(), Vector512<double>.Zero).As<double, T>();
        }
        return Vector512.Create(Load256(ref source, mask.GetLower()), Load256(ref Unsafe.Add(ref source, Vector256<T>.Count), mask.GetUpper()));
    }

    /// <summary>
    /// Copies <paramref name="count"/> floats: whole 8-float vectors, then one masked load and store, so neither side
    /// is touched past <paramref name="count"/> (a row copy of a few dozen floats without a memmove call).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Copy(ref float source, ref float destination, int count)
    {
        if (!Avx.IsSupported)
        {
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref destination), ref Unsafe.As<float, byte>(ref source), (uint)count * sizeof(float));
            return;
        }
        int i = 0;
        for (; i + 8 <= count; i += 8) Vector256.LoadUnsafe(ref source, (nuint)i).StoreUnsafe(ref destination, (nuint)i);
        if (i < count && SlowMaskStore)
        {
            for (; i < count; i++) Unsafe.Add(ref destination, i) = Unsafe.Add(ref source, i);
            return;
        }
        if (i < count)
        {
            var mask = FirstLanes256<float>(count - i);
            fixed (float* s = &Unsafe.Add(ref source, i), d = &Unsafe.Add(ref destination, i)) Avx.MaskStore(d, mask, Avx.MaskLoad(s, mask));
        }
    }
}
