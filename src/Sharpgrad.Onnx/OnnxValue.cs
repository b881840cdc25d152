namespace Sharpgrad.Onnx;

/// <summary>
/// One value flowing through an imported graph: a floating-point <see cref="Tensor"/> (float32 or float64, with
/// autograd) or an integer tensor (int64, int32 and bool elements held as long, row-major) such as a Reshape's shape.
/// </summary>
internal sealed class OnnxValue
{
    private OnnxValue(Tensor? tensor, long[]? ints, int[] shape, int elementType)
    {
        Tensor = tensor;
        Ints = ints;
        Shape = shape;
        ElementType = elementType;
    }

    /// <summary>The floating-point tensor, or null for an integer value.</summary>
    public Tensor? Tensor { get; }

    /// <summary>The integer elements (row-major), or null for a floating-point value.</summary>
    public long[]? Ints { get; }

    /// <summary>The shape.</summary>
    public int[] Shape { get; }

    /// <summary>ONNX's TensorProto.DataType of the elements (1 float, 11 double, 7 int64, 6 int32, 9 bool).</summary>
    public int ElementType { get; }

    public bool IsFloat => Tensor is not null;

    public static OnnxValue Of(Tensor t) => new(t, null, t.Shape, t.DType == DType.Float32 ? OnnxTypes.Float : OnnxTypes.Double);

    public static OnnxValue OfInts(long[] data, int[] shape, int elementType = OnnxTypes.Int64) => new(null, data, shape, elementType);

    public override string ToString() => $"{OnnxTypes.Name(ElementType)}[{string.Join(",", Shape)}]";
}

/// <summary>TensorProto.DataType codes the importer knows.</summary>
internal static class OnnxTypes
{
    public const int Float = 1;
    public const int UInt8 = 2;
    public const int Int8 = 3;
    public const int Int32 = 6;
    public const int Int64 = 7;
    public const int Bool = 9;
    public const int Double = 11;

    public static bool IsInteger(int t) => t is Int32 or Int64 or Bool;

    public static string Name(int t) => t switch
    {
        1 => "float32", 2 => "uint8", 3 => "int8", 4 => "uint16", 5 => "int16", 6 => "int32", 7 => "int64", 8 => "string",
        9 => "bool", 10 => "float16", 11 => "float64", 12 => "uint32", 13 => "uint64", 14 => "complex64", 15 => "complex128",
        16 => "bfloat16", _ => $"type {t}",
    };
}
