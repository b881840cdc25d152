namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>Adds a scalar.</summary>
    public Tensor Add(double value) => Add(Scalar(value, DType));

    /// <summary>Subtracts a scalar.</summary>
    public Tensor Sub(double value) => Sub(Scalar(value, DType));

    /// <summary>Multiplies by a scalar.</summary>
    public Tensor Mul(double value) => Mul(Scalar(value, DType));

    /// <summary>Divides by a scalar.</summary>
    public Tensor Div(double value) => Div(Scalar(value, DType));

    /// <summary>Element-wise sum with broadcasting.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => Nn(a).Add(b);

    /// <summary>Element-wise difference with broadcasting.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => Nn(a).Sub(b);

    /// <summary>Element-wise product with broadcasting.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => Nn(a).Mul(b);

    /// <summary>Element-wise quotient with broadcasting.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => Nn(a).Div(b);

    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => Nn(a).Neg();

    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(Tensor a, double b) => Nn(a).Add(b);

    /// <summary>Adds a scalar.</summary>
    public static Tensor operator +(double a, Tensor b) => Nn(b).Add(a);

    /// <summary>Subtracts a scalar.</summary>
    public static Tensor operator -(Tensor a, double b) => Nn(a).Sub(b);

    /// <summary>Scalar minus tensor.</summary>
    public static Tensor operator -(double a, Tensor b) => Scalar(a, Nn(b).DType).Sub(b);

    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(Tensor a, double b) => Nn(a).Mul(b);

    /// <summary>Multiplies by a scalar.</summary>
    public static Tensor operator *(double a, Tensor b) => Nn(b).Mul(a);

    /// <summary>Divides by a scalar.</summary>
    public static Tensor operator /(Tensor a, double b) => Nn(a).Div(b);

    /// <summary>Scalar divided by tensor.</summary>
    public static Tensor operator /(double a, Tensor b) => Scalar(a, Nn(b).DType).Div(b);

    private static Tensor Nn(Tensor t) => t ?? throw new ArgumentNullException(nameof(t));
}
