using Sharpgrad.Kernels;
using Xunit;

namespace Sharpgrad.Tests.Kernels;

/// <summary>
/// Element-wise tanh, sigmoid, exp and log against their references over a dense sweep of inputs: the maximum error
/// in ULP from the correctly rounded float32 result (the float64 reference rounded once) and from libm in float64.
/// </summary>
public sealed class ElementwiseMathTests
{
    internal delegate void FloatKernel(ReadOnlySpan<float> x, Span<float> y, ElementwiseMath.MathPath path);
    internal delegate void DoubleKernel(ReadOnlySpan<double> x, Span<double> y, ElementwiseMath.MathPath path);

    private static readonly Dictionary<string, (FloatKernel F32, DoubleKernel F64, Func<double, double> Ref)> Fns = new()
    {
        ["tanh"] = (ElementwiseMath.Tanh, ElementwiseMath.Tanh, ElementwiseMath.TanhReference),
        ["sigmoid"] = (ElementwiseMath.Sigmoid, ElementwiseMath.Sigmoid, ElementwiseMath.SigmoidReference),
        ["exp"] = (ElementwiseMath.Exp, ElementwiseMath.Exp, ElementwiseMath.ExpReference),
        ["log"] = (ElementwiseMath.Log, ElementwiseMath.Log, ElementwiseMath.LogReference),
    };

    // float32: every 8191st positive bit pattern from 0 to infinity (262K, each with both signs), and 25K
    // consecutive patterns from 0, around 0.625 (tanh's switch), 88.72 (e^x overflows), 103.97 (e^-x underflows)
    private static readonly float[] FloatSweep = MakeFloatSweep();

    private static float[] MakeFloatSweep()
    {
        var v = new List<float> { float.PositiveInfinity, float.NaN };
        for (long b = 0; b < 0x7f800000; b += 8191) v.Add(BitConverter.Int32BitsToSingle((int)b));
        foreach (float c in new[] { 0f, 0.625f, 88.72f, 103.97f })
            for (int b = BitConverter.SingleToInt32Bits(c), k = 0; k < 25_000; k++) v.Add(BitConverter.Int32BitsToSingle(b + k - (c == 0 ? 0 : 12_500)));
        return [.. v, .. v.Select(f => -f)];
    }

    // float64: 100K random bit patterns over all magnitudes, 30K uniform in [-1, 1] and in [-750, 750], each sign
    private static readonly double[] DoubleSweep = MakeDoubleSweep();

    private static double[] MakeDoubleSweep()
    {
        var r = new Random(7);
        var v = new List<double> { double.PositiveInfinity, double.NaN, 0 };
        for (int i = 0; i < 100_000; i++) v.Add(BitConverter.Int64BitsToDouble(r.NextInt64(0, 0x7ff0000000000000)));
        for (int i = 0; i < 30_000; i++) v.Add(r.NextDouble());
        for (int i = 0; i < 30_000; i++) v.Add(750 * r.NextDouble());
        return [.. v, .. v.Select(d => -d)];
    }

    // distance in representable values; NaN against NaN is 0, NaN against a number is long.MaxValue
    internal static long Ulps(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b)) return float.IsNaN(a) && float.IsNaN(b) ? 0 : long.MaxValue;
        static long Ord(float f) { int i = BitConverter.SingleToInt32Bits(f); return i < 0 ? (long)int.MinValue - i : i; }
        return Math.Abs(Ord(a) - Ord(b));
    }

    internal static long Ulps(double a, double b)
    {
        if (double.IsNaN(a) || double.IsNaN(b)) return double.IsNaN(a) && double.IsNaN(b) ? 0 : long.MaxValue;
        static Int128 Ord(double d) { long i = BitConverter.DoubleToInt64Bits(d); return i < 0 ? (Int128)long.MinValue - i : i; }
        var d = Ord(a) - Ord(b);
        return (long)(d < 0 ? -d : d);
    }

    private static (long Max, double At) MaxError(FloatKernel k, ElementwiseMath.MathPath path, Func<double, double> reference, float[] x)
    {
        var y = new float[x.Length];
        k(x, y, path);
        (long max, double at) = (0, 0);
        for (int i = 0; i < x.Length; i++)
        {
            long u = Ulps(y[i], (float)reference(x[i]));
            if (u > max) (max, at) = (u, x[i]);
        }
        return (max, at);
    }

    private static (long Max, double At) MaxError(DoubleKernel k, ElementwiseMath.MathPath path, Func<double, double> reference, double[] x)
    {
        var y = new double[x.Length];
        k(x, y, path);
        (long max, double at) = (0, 0);
        for (int i = 0; i < x.Length; i++)
        {
            long u = Ulps(y[i], reference(x[i]));
            if (u > max) (max, at) = (u, x[i]);
        }
        return (max, at);
    }

    public static TheoryData<string, int> FnsAndPaths()
    {
        var d = new TheoryData<string, int>();
        foreach (var fn in new[] { "tanh", "sigmoid", "exp", "log" })
            foreach (var p in new[] { ElementwiseMath.MathPath.Auto, ElementwiseMath.MathPath.Vector512, ElementwiseMath.MathPath.Vector256, ElementwiseMath.MathPath.Scalar })
                d.Add(fn, (int)p);
        return d;
    }

    // the bounds: the measured maximum over a much denser sweep (see the commit message), float32 from the correctly
    // rounded result, float64 from libm (whose own tanh may be 1-2 ULP off; its exp and log are within 1). Every
    // path runs on every machine (vectors that are not accelerated run in software).
    private static readonly Dictionary<string, (long F32, long F64)> Bounds = new()
    {
        ["tanh"] = (1, 3),
        ["sigmoid"] = (1, 3),
        ["exp"] = (2, 2),
        ["log"] = (2, 3),
    };

    [Theory]
    [MemberData(nameof(FnsAndPaths))]
    public void Float32WithinBound(string fn, int path)
    {
        var (max, at) = MaxError(Fns[fn].F32, (ElementwiseMath.MathPath)path, Fns[fn].Ref, FloatSweep);
        Assert.True(max <= Bounds[fn].F32, $"{fn} float32 ({(ElementwiseMath.MathPath)path}): {max} ULP at x = {at:R}");
    }

    [Theory]
    [MemberData(nameof(FnsAndPaths))]
    public void Float64WithinBound(string fn, int path)
    {
        var (max, at) = MaxError(Fns[fn].F64, (ElementwiseMath.MathPath)path, Fns[fn].Ref, DoubleSweep);
        Assert.True(max <= Bounds[fn].F64, $"{fn} float64 ({(ElementwiseMath.MathPath)path}): {max} ULP at x = {at:R}");
    }

    // every length 1..67 (vector blocks, the overlapping last block, padded short spans), in place or not, offset
    // or not, gives each element the bits the long span gave it
    [Theory]
    [MemberData(nameof(FnsAndPaths))]
    public void SameBitsAtEveryLength(string fn, int pathId)
    {
        var path = (ElementwiseMath.MathPath)pathId;
        var g = new Generator(11);
        var xf = Enumerable.Range(0, 70).Select(i => i % 7 == 0 ? (float)Math.Pow(10, -i / 7.0) : (float)(g.NextNormal() * 3)).ToArray();
        var xd = xf.Select(v => (double)v).ToArray();
        float[] wantF = new float[xf.Length];
        double[] wantD = new double[xd.Length];
        Fns[fn].F32(xf, wantF, path);
        Fns[fn].F64(xd, wantD, path);
        for (int n = 1; n <= 67; n++)
        {
            foreach (int start in new[] { 0, 3 })
            {
                var yf = new float[n];
                Fns[fn].F32(xf.AsSpan(start, n), yf, path);
                Assert.Equal(wantF.AsSpan(start, n).ToArray(), yf);
                var inPlace = xf.AsSpan(start, n).ToArray();
                Fns[fn].F32(inPlace, inPlace, path);
                Assert.Equal(yf, inPlace);

                var yd = new double[n];
                Fns[fn].F64(xd.AsSpan(start, n), yd, path);
                Assert.Equal(wantD.AsSpan(start, n).ToArray(), yd);
                var inPlaceD = xd.AsSpan(start, n).ToArray();
                Fns[fn].F64(inPlaceD, inPlaceD, path);
                Assert.Equal(yd, inPlaceD);
            }
        }
    }

    // the reported case: on 4+ elements TensorPrimitives gave [-5.96e-8, -0, 9.54e-7, 9.9967e-5]
    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(17)]
    [InlineData(64)]
    public void TanhNearZeroIsCorrectlyRoundedAtAnyLength(int n)
    {
        float[] small = [0, 1e-8f, 1e-6f, 1e-4f];
        var x = Enumerable.Range(0, n).Select(i => i < 4 ? small[i] : 0.5f).ToArray();
        var y = Tensor.FromArray(x, n).Tanh().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(BitConverter.SingleToInt32Bits((float)Math.Tanh(x[i])), BitConverter.SingleToInt32Bits(y[i]));
        var yd = Tensor.FromArray(x.Select(v => (double)v).ToArray(), n).Tanh().ToDoubleArray();
        for (int i = 0; i < 4; i++) Assert.True(Ulps(yd[i], Math.Tanh(x[i])) <= 1, $"tanh({x[i]:R}) = {yd[i]:R}");
        Assert.True(float.IsNegative(Tensor.FromArray([-0f, -0f, -0f, -0f, -0f], 5).Tanh().ToArray()[4]));
    }

    // sigmoid keeps the subnormal results 1 / (1 + e^-x) flushed to zero (float32 below -88.7, float64 below -709.8)
    [Fact]
    public void SigmoidDoesNotUnderflowEarly()
    {
        var y = Tensor.FromArray([-90f, -100f, -103f, -104f, -90f, -100f, -103f, -104f], 8).Sigmoid().ToArray();
        Assert.All(y.Take(3), v => Assert.True(v > 0));
        Assert.Equal([(float)Math.Exp(-90), (float)Math.Exp(-100), (float)Math.Exp(-103)], y.Take(3).ToArray());
        var yd = Tensor.FromArray([-720.0, -740.0, -720.0, -740.0, -720.0], 5).Sigmoid().ToDoubleArray();
        Assert.Equal(Math.Exp(-720), yd[0]);
        Assert.Equal(Math.Exp(-740), yd[1]);
    }

    // special values: infinities, NaN, zero signs
    [Fact]
    public void SpecialValues()
    {
        float[] x = [float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0f, -0f, 1f, -1f, 2f, 100f];
        var t = new float[x.Length];
        ElementwiseMath.Tanh(x, t);
        Assert.Equal([1f, -1f, float.NaN, 0f, -0f], t.Take(5).ToArray());
        Assert.True(float.IsNegative(t[4]) && !float.IsNegative(t[3]));
        ElementwiseMath.Sigmoid(x, t);
        Assert.Equal([1f, 0f, float.NaN, 0.5f, 0.5f], t.Take(5).ToArray());
        ElementwiseMath.Exp(x, t);
        Assert.Equal([float.PositiveInfinity, 0f, float.NaN], t.Take(3).ToArray());
        ElementwiseMath.Log(x, t);
        Assert.Equal([float.PositiveInfinity, float.NaN, float.NaN, float.NegativeInfinity, float.NegativeInfinity], t.Take(5).ToArray());
    }
}
