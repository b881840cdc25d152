using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Element-wise x == y with broadcasting -> broadcast(A, B): 1 where true, else 0, in this dtype. No gradient.</summary>
    /// <exception cref="ArgumentException">The dtypes differ or the shapes do not broadcast.</exception>
    public Tensor Eq(Tensor other) => Compare("Eq", other, default(EqTest));

    /// <summary>Element-wise x != y with broadcasting (1 for NaN), as 0/1 in this dtype. No gradient.</summary>
    /// <exception cref="ArgumentException">The dtypes differ or the shapes do not broadcast.</exception>
    public Tensor Ne(Tensor other) => Compare("Ne", other, default(NeTest));

    /// <summary>Element-wise x &lt; y with broadcasting, as 0/1 in this dtype. No gradient.</summary>
    /// <exception cref="ArgumentException">The dtypes differ or the shapes do not broadcast.</exception>
    public Tensor Lt(Tensor other) => Compare("Lt", other, default(LtTest));

    /// <summary>Element-wise x &lt;= y with broadcasting, as 0/1 in this dtype. No gradient.</summary>
    /// <exception cref="ArgumentException">The dtypes differ or the shapes do not broadcast.</exception>
    public Tensor Le(Tensor other) => Compare("Le", other, default(LeTest));

    /// <summary>Element-wise x &gt; y with broadcasting, as 0/1 in this dtype. No gradient.</summary>
    /// <exception cref="ArgumentException">The dtypes differ or the shapes do not broadcast.</exception>
    public Tensor Gt(Tensor other) => Compare("Gt", other, default(GtTest));

    /// <summary>Element-wise x &gt;= y with broadcasting, as 0/1 in this dtype. No gradient.</summary>
    /// <exception cref="ArgumentException">The dtypes differ or the shapes do not broadcast.</exception>
    public Tensor Ge(Tensor other) => Compare("Ge", other, default(GeTest));

    /// <summary>Element-wise x == <paramref name="value"/> (rounded to this dtype), as 0/1 in this dtype. No gradient.</summary>
    public Tensor Eq(double value) => Eq(Scalar(value, DType));

    /// <summary>Element-wise x != <paramref name="value"/> (rounded to this dtype), as 0/1 in this dtype. No gradient.</summary>
    public Tensor Ne(double value) => Ne(Scalar(value, DType));

    /// <summary>Element-wise x &lt; <paramref name="value"/> (rounded to this dtype), as 0/1 in this dtype. No gradient.</summary>
    public Tensor Lt(double value) => Lt(Scalar(value, DType));

    /// <summary>Element-wise x &lt;= <paramref name="value"/> (rounded to this dtype), as 0/1 in this dtype. No gradient.</summary>
    public Tensor Le(double value) => Le(Scalar(value, DType));

    /// <summary>Element-wise x &gt; <paramref name="value"/> (rounded to this dtype), as 0/1 in this dtype. No gradient.</summary>
    public Tensor Gt(double value) => Gt(Scalar(value, DType));

    /// <summary>Element-wise x &gt;= <paramref name="value"/> (rounded to this dtype), as 0/1 in this dtype. No gradient.</summary>
    public Tensor Ge(double value) => Ge(Scalar(value, DType));

    private Tensor Compare<TP>(string op, Tensor other, TP test) where TP : struct, IComparisonTest
    {
        ArgumentNullException.ThrowIfNull(other);
        return Elementwise.Zip(op, this, other, new CompareKernel<TP>());
    }
}
