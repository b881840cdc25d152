using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>
/// Element-wise tanh, sigmoid, exp and log that are accurate for every input and give each element the same bits
/// whatever the span's length or where it starts. TensorPrimitives' vector tanh computes 1 - 2/(e^2x + 1) and loses
/// all relative accuracy near zero (tanh(1e-8) = -0 in float32), its sigmoid overflows e^-x and flushes results below
/// float.MinNormal (double: 2^-1022) to zero, its float32 exp gives e^0 = 1.0000001, and its scalar tail (spans
/// shorter than a vector, and the last few elements) calls libm, so one input gave different bits at different lengths.
/// Here every element, the tail included (run as a zero-padded vector), goes through the same vector code; float32
/// is computed in float64 and rounded once, so it is within 1 ULP of the correctly rounded value (tests measure it).
/// Bounds measured against libm (float64) and correctly rounded results (float32): see ElementwiseMathTests.
/// The vector code runs on Vector512 or Vector256 where accelerated, the scalar code otherwise; the two may differ in
/// the last bit, so results are the same for every length on one machine configuration, not across configurations.
/// </summary>
internal static class ElementwiseMath
{
    // x: any length -> y: same length (x and y may be the same span)
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y, MathPath path = MathPath.Auto) => Map<float, ViaDouble<TanhFn>>(x, y, path);

    // x: any length -> y: same length (x and y may be the same span)
    public static void Tanh(ReadOnlySpan<double> x, Span<double> y, MathPath path = MathPath.Auto) => Map<double, TanhFn>(x, y, path);

    // x: any length -> y: same length (x and y may be the same span)
    public static void Sigmoid(ReadOnlySpan<float> x, Span<float> y, MathPath path = MathPath.Auto) => Map<float, ViaDouble<SigmoidFn>>(x, y, path);

    // x: any length -> y: same length (x and y may be the same span)
    public static void Sigmoid(ReadOnlySpan<double> x, Span<double> y, MathPath path = MathPath.Auto) => Map<double, SigmoidFn>(x, y, path);

    // x: any length -> y: same length (x and y may be the same span)
    public static void Exp(ReadOnlySpan<float> x, Span<float> y, MathPath path = MathPath.Auto) => Map<float, ViaDouble<ExpFn>>(x, y, path);

    // x: any length -> y: same length (x and y may be the same span)
    public static void Exp(ReadOnlySpan<double> x, Span<double> y, MathPath path = MathPath.Auto) => Map<double, ExpFn>(x, y, path);

    // x: any length -> y: same length (x and y may be the same span)
    public static void Log(ReadOnlySpan<float> x, Span<float> y, MathPath path = MathPath.Auto) => Map<float, LogFn>(x, y, path);

    // x: any length -> y: same length (x and y may be the same span)
    public static void Log(ReadOnlySpan<double> x, Span<double> y, MathPath path = MathPath.Auto) => Map<double, LogFn>(x, y, path);

    // The same four for generic callers (the element-wise kernels), T float or double: each runs as its overload above
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged => Map<T, ViaDouble<TanhFn>, TanhFn>(x, y);

    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged => Map<T, ViaDouble<SigmoidFn>, SigmoidFn>(x, y);

    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged => Map<T, ViaDouble<ExpFn>, ExpFn>(x, y);

    public static void Log<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged => Map<T, LogFn, LogFn>(x, y);

    // the float or double form, chosen once for the four generic entry points
    private static void Map<T, TFloat, TDouble>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged where TFloat : IVectorFn<float> where TDouble : IVectorFn<double>
    {
        if (typeof(T) == typeof(float)) Map<float, TFloat>(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), MathPath.Auto);
        else Map<double, TDouble>(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y), MathPath.Auto);
    }

    // The references (test oracles): libm in float64, rounded once for float32 (correctly rounded but for inputs
    // astronomically close to a rounding boundary). Sigmoid as e^x / (1 + e^x) for x < 0 so that it never overflows.
    public static double TanhReference(double x) => Math.Tanh(x);

    public static double SigmoidReference(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    public static double ExpReference(double x) => Math.Exp(x);

    public static double LogReference(double x) => Math.Log(x);

    /// <summary>Which code runs: the widest accelerated vectors (Auto), or one path chosen by a test.</summary>
    internal enum MathPath
    {
        Auto,
        Vector512,
        Vector256,
        Scalar,
    }

    /// <summary>A function in scalar and vector forms whose lanes are independent (a lane's result never depends on the others).</summary>
    internal interface IVectorFn<T> where T : unmanaged
    {
        static abstract T Scalar(T x);
        static abstract Vector256<T> V256(Vector256<T> x);
        static abstract Vector512<T> V512(Vector512<T> x);
    }

    // x: (n) -> y: (n). Every element goes through the widest accelerated vector form: the last partial block is
    // computed first as the full block that ends at n (x and y may alias, so before anything is stored), and a span
    // shorter than one vector runs as a zero-padded vector.
    // (tests pick each path on any machine: vector types not accelerated run in software, with the same results)
    internal static void Map<T, TFn>(ReadOnlySpan<T> x, Span<T> y, MathPath path) where T : unmanaged where TFn : IVectorFn<T>
    {
        if (x.Length != y.Length) throw new ArgumentException("x and y must have the same length.", nameof(y));
        int n = x.Length;
        if (path == MathPath.Auto)
            path = Vector512.IsHardwareAccelerated ? MathPath.Vector512 : Vector256.IsHardwareAccelerated ? MathPath.Vector256 : MathPath.Scalar;
        if (path == MathPath.Vector512)
        {
            int w = Vector512<T>.Count;
            if (n < w)
            {
                Short512<T, TFn>(x, y);
                return;
            }
            ref T xr = ref MemoryMarshal.GetReference(x);
            ref T yr = ref MemoryMarshal.GetReference(y);
            nuint last = (nuint)(n - w);
            var tail = n % w != 0 ? TFn.V512(Vector512.LoadUnsafe(ref xr, last)) : default;
            for (nuint i = 0; i <= last; i += (nuint)w) TFn.V512(Vector512.LoadUnsafe(ref xr, i)).StoreUnsafe(ref yr, i);
            if (n % w != 0) tail.StoreUnsafe(ref yr, last);
        }
        else if (path == MathPath.Vector256)
        {
            int w = Vector256<T>.Count;
            if (n < w)
            {
                Short256<T, TFn>(x, y);
                return;
            }
            ref T xr = ref MemoryMarshal.GetReference(x);
            ref T yr = ref MemoryMarshal.GetReference(y);
            nuint last = (nuint)(n - w);
            var tail = n % w != 0 ? TFn.V256(Vector256.LoadUnsafe(ref xr, last)) : default;
            for (nuint i = 0; i <= last; i += (nuint)w) TFn.V256(Vector256.LoadUnsafe(ref xr, i)).StoreUnsafe(ref yr, i);
            if (n % w != 0) tail.StoreUnsafe(ref yr, last);
        }
        else
        {
            for (int i = 0; i < n; i++) y[i] = TFn.Scalar(x[i]);
        }
    }

    // x: (n < one vector) -> y: (n), through one zero-padded vector
    private static void Short512<T, TFn>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged where TFn : IVectorFn<T>
    {
        Span<T> buf = stackalloc T[Vector512<T>.Count];
        buf.Clear();
        x.CopyTo(buf);
        TFn.V512(Vector512.Create<T>(buf)).CopyTo(buf);
        buf[..x.Length].CopyTo(y);
    }

    // x: (n < one vector) -> y: (n), through one zero-padded vector
    private static void Short256<T, TFn>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged where TFn : IVectorFn<T>
    {
        Span<T> buf = stackalloc T[Vector256<T>.Count];
        buf.Clear();
        x.CopyTo(buf);
        TFn.V256(Vector256.Create<T>(buf)).CopyTo(buf);
        buf[..x.Length].CopyTo(y);
    }

    /// <summary>A float64 function applied to float32: each lane widened, computed and rounded once.</summary>
    private readonly struct ViaDouble<TFn> : IVectorFn<float> where TFn : IVectorFn<double>
    {
        public static float Scalar(float x) => (float)TFn.Scalar(x);

        public static Vector256<float> V256(Vector256<float> x)
        {
            var (lo, hi) = Vector256.Widen(x);
            return Vector256.Narrow(TFn.V256(lo), TFn.V256(hi));
        }

        public static Vector512<float> V512(Vector512<float> x)
        {
            var (lo, hi) = Vector512.Widen(x);
            return Vector512.Narrow(TFn.V512(lo), TFn.V512(hi));
        }
    }

    /// <summary>
    /// tanh(x) = x + x^3 P(x^2) for |x| &lt; 0.625 (P: degree-11 Chebyshev fit of (tanh(r)/r - 1)/r^2, error below
    /// 2^-59 relative), (1 - e^-2|x|) / (1 + e^-2|x|) above, the sign of x copied onto the result (so -0 stays -0).
    /// </summary>
    private readonly struct TanhFn : IVectorFn<double>
    {
        private const double Small = 0.625;
        private const double C0 = -0.3333333333333333, C1 = 0.13333333333333042, C2 = -0.05396825396789699;
        private const double C3 = 0.021869488519008305, C4 = -0.008863235103240878, C5 = 0.0035921217511549622;
        private const double C6 = -0.0014557754120478055, C7 = 0.0005896606577757043, C8 = -0.0002375906496055562;
        private const double C9 = 9.257116129556769e-05, C10 = -3.12011014257974e-05, C11 = 6.485163482793113e-06;

        public static double Scalar(double x)
        {
            double a = Math.Abs(x), r;
            if (a < Small)
            {
                double s = a * a;
                double p = C11;
                p = Math.FusedMultiplyAdd(p, s, C10);
                p = Math.FusedMultiplyAdd(p, s, C9);
                p = Math.FusedMultiplyAdd(p, s, C8);
                p = Math.FusedMultiplyAdd(p, s, C7);
                p = Math.FusedMultiplyAdd(p, s, C6);
                p = Math.FusedMultiplyAdd(p, s, C5);
                p = Math.FusedMultiplyAdd(p, s, C4);
                p = Math.FusedMultiplyAdd(p, s, C3);
                p = Math.FusedMultiplyAdd(p, s, C2);
                p = Math.FusedMultiplyAdd(p, s, C1);
                p = Math.FusedMultiplyAdd(p, s, C0);
                r = Math.FusedMultiplyAdd(a, s * p, a);
            }
            else
            {
                double t = Math.Exp(-2 * a);
                r = (1 - t) / (1 + t);
            }
            return Math.CopySign(r, x);
        }

        public static Vector256<double> V256(Vector256<double> x)
        {
            var a = Vector256.Abs(x);
            var small = Vector256.LessThan(a, Vector256.Create(Small));
            Vector256<double> rs = default, rl = default;
            if (small != Vector256<double>.Zero)
            {
                var s = a * a;
                var p = Vector256.Create(C11);
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C10));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C9));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C8));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C7));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C6));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C5));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C4));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C3));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C2));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C1));
                p = Vector256.FusedMultiplyAdd(p, s, Vector256.Create(C0));
                rs = Vector256.FusedMultiplyAdd(a, s * p, a);
            }
            if (!Vector256.EqualsAll(small.AsInt64(), Vector256<long>.AllBitsSet))
            {
                var t = Vector256.Exp(a * Vector256.Create(-2.0));
                rl = (Vector256<double>.One - t) / (Vector256<double>.One + t);
            }
            var r = Vector256.ConditionalSelect(small, rs, rl);
            return Vector256.ConditionalSelect(Vector256.Create(-0.0), x, r);
        }

        public static Vector512<double> V512(Vector512<double> x)
        {
            var a = Vector512.Abs(x);
            var small = Vector512.LessThan(a, Vector512.Create(Small));
            Vector512<double> rs = default, rl = default;
            if (small != Vector512<double>.Zero)
            {
                var s = a * a;
                var p = Vector512.Create(C11);
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C10));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C9));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C8));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C7));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C6));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C5));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C4));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C3));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C2));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C1));
                p = Vector512.FusedMultiplyAdd(p, s, Vector512.Create(C0));
                rs = Vector512.FusedMultiplyAdd(a, s * p, a);
            }
            if (!Vector512.EqualsAll(small.AsInt64(), Vector512<long>.AllBitsSet))
            {
                var t = Vector512.Exp(a * Vector512.Create(-2.0));
                rl = (Vector512<double>.One - t) / (Vector512<double>.One + t);
            }
            var r = Vector512.ConditionalSelect(small, rs, rl);
            return Vector512.ConditionalSelect(Vector512.Create(-0.0), x, r);
        }
    }

    /// <summary>
    /// sigmoid(x) = 1 / (1 + e) for x &gt;= 0 and e / (1 + e) for x &lt; 0, with e = e^-|x| &lt;= 1: nothing overflows,
    /// and results down to the smallest subnormal keep their accuracy (the form 1 / (1 + e^-x) gives 0 once e^-x
    /// overflows, below x = -88.7 in float32 and -709.8 in float64).
    /// </summary>
    private readonly struct SigmoidFn : IVectorFn<double>
    {
        public static double Scalar(double x)
        {
            double e = Math.Exp(-Math.Abs(x));
            return (x >= 0 ? 1 : e) / (1 + e);
        }

        public static Vector256<double> V256(Vector256<double> x)
        {
            var e = Vector256.Exp(-Vector256.Abs(x));
            var num = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(x, Vector256<double>.Zero), Vector256<double>.One, e);
            return num / (Vector256<double>.One + e);
        }

        public static Vector512<double> V512(Vector512<double> x)
        {
            var e = Vector512.Exp(-Vector512.Abs(x));
            var num = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<double>.Zero), Vector512<double>.One, e);
            return num / (Vector512<double>.One + e);
        }
    }

    /// <summary>e^x: the runtime's vector exp (the one TensorPrimitives calls), libm in scalar code.</summary>
    private readonly struct ExpFn : IVectorFn<double>, IVectorFn<float>
    {
        public static double Scalar(double x) => Math.Exp(x);
        public static Vector256<double> V256(Vector256<double> x) => Vector256.Exp(x);
        public static Vector512<double> V512(Vector512<double> x) => Vector512.Exp(x);
        public static float Scalar(float x) => MathF.Exp(x);
        public static Vector256<float> V256(Vector256<float> x) => Vector256.Exp(x);
        public static Vector512<float> V512(Vector512<float> x) => Vector512.Exp(x);
    }

    /// <summary>ln x: the runtime's vector log (the one TensorPrimitives calls), libm in scalar code.</summary>
    private readonly struct LogFn : IVectorFn<double>, IVectorFn<float>
    {
        public static double Scalar(double x) => Math.Log(x);
        public static Vector256<double> V256(Vector256<double> x) => Vector256.Log(x);
        public static Vector512<double> V512(Vector512<double> x) => Vector512.Log(x);
        public static float Scalar(float x) => MathF.Log(x);
        public static Vector256<float> V256(Vector256<float> x) => Vector256.Log(x);
        public static Vector512<float> V512(Vector512<float> x) => Vector512.Log(x);
    }
}
