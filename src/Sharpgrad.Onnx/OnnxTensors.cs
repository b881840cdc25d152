using System.Buffers.Binary;

namespace Sharpgrad.Onnx;

/// <summary>
/// Decodes TensorProtos (initializers, Constant values, the node tests' .pb files) into <see cref="OnnxValue"/>s,
/// checking every size in 64 bits before anything is allocated: dims non-negative, their product at most
/// <see cref="MaxElements"/>, and the data (raw_data's byte length, or the count of the typed field) exactly the
/// product of the dims.
/// </summary>
internal static class OnnxTensors
{
    /// <summary>The most elements one tensor may hold (Sharpgrad's tensors index with int).</summary>
    public const long MaxElements = int.MaxValue / 8;

    /// <summary>Decodes <paramref name="t"/>; <paramref name="what"/> names it in errors ("initializer 'w'").</summary>
    /// <exception cref="FormatException">The tensor is malformed or of an element type the importer does not read.</exception>
    public static OnnxValue Decode(TensorProto t, string what)
    {
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0)
            throw new FormatException($"{what}: data stored in an external file is not supported (save the model with its weights inside).");
        if (t.Segment is not null) throw new FormatException($"{what}: segmented tensors are not supported.");
        var shape = Shape(t.Dims, what);
        long n = 1;
        foreach (int d in shape) n *= d; // Shape bounded the product
        int type = t.DataType;
        bool raw = t.HasRawData;
        switch (type)
        {
            case OnnxTypes.Float:
            {
                var data = new float[Count(n, raw ? t.RawData.Length : t.FloatData.Count, raw, 4, what, "float_data")];
                if (raw) ReadRaw(t.RawData.Span, data.AsSpan(), BinaryPrimitives.ReadSingleLittleEndian, 4);
                else t.FloatData.CopyTo(data, 0);
                return OnnxValue.Of(Tensor.Wrap(data, shape));
            }
            case OnnxTypes.Double:
            {
                var data = new double[Count(n, raw ? t.RawData.Length : t.DoubleData.Count, raw, 8, what, "double_data")];
                if (raw) ReadRaw(t.RawData.Span, data.AsSpan(), BinaryPrimitives.ReadDoubleLittleEndian, 8);
                else t.DoubleData.CopyTo(data, 0);
                return OnnxValue.Of(Tensor.Wrap(data, shape));
            }
            case OnnxTypes.Int64:
            {
                var data = new long[Count(n, raw ? t.RawData.Length : t.Int64Data.Count, raw, 8, what, "int64_data")];
                if (raw) ReadRaw(t.RawData.Span, data.AsSpan(), BinaryPrimitives.ReadInt64LittleEndian, 8);
                else t.Int64Data.CopyTo(data, 0);
                return OnnxValue.OfInts(data, shape, type);
            }
            case OnnxTypes.Int32:
            case OnnxTypes.Bool:
            {
                int size = type == OnnxTypes.Bool ? 1 : 4;
                var data = new long[Count(n, raw ? t.RawData.Length : t.Int32Data.Count, raw, size, what, "int32_data")];
                if (raw)
                {
                    var bytes = t.RawData.Span;
                    for (int i = 0; i < data.Length; i++)
                        data[i] = size == 1 ? bytes[i] : BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(i * 4, 4));
                }
                else for (int i = 0; i < data.Length; i++) data[i] = t.Int32Data[i];
                return OnnxValue.OfInts(data, shape, type);
            }
            default:
                throw new FormatException($"{what}: element type {OnnxTypes.Name(type)} is not supported (float32, float64, int64, int32 and bool are).");
        }
    }

    /// <summary>
    /// Checks dims: each non-negative, and the product of max(d, 1) (what the strides span, so also the product)
    /// at most <see cref="MaxElements"/>, computed without overflow.
    /// </summary>
    public static int[] Shape(IReadOnlyList<long> dims, string what)
    {
        if (dims.Count > 32) throw new FormatException($"{what}: {dims.Count} dimensions (at most 32 are supported).");
        var shape = new int[dims.Count];
        long span = 1;
        for (int i = 0; i < dims.Count; i++)
        {
            long d = dims[i];
            if (d < 0) throw new FormatException($"{what}: negative dimension {d} in [{string.Join(",", dims)}].");
            if (Math.Max(d, 1) > MaxElements / span)
                throw new FormatException($"{what}: dims [{string.Join(",", dims)}] hold more than {MaxElements} elements.");
            span *= Math.Max(d, 1);
            shape[i] = (int)d;
        }
        return shape;
    }

    // the element count the data holds, which must be the dims' product
    private static int Count(long n, int stored, bool raw, int size, string what, string field)
    {
        long have = raw ? stored / size : stored;
        if ((raw && stored % size != 0) || have != n)
            throw new FormatException(raw
                ? $"{what}: raw_data holds {stored} bytes but the dims need {n} elements of {size} bytes ({n * size} bytes)."
                : $"{what}: {field} holds {stored} values but the dims need {n}.");
        return (int)n;
    }

    private delegate T Reader<T>(ReadOnlySpan<byte> bytes);

    private static void ReadRaw<T>(ReadOnlySpan<byte> bytes, Span<T> into, Reader<T> read, int size)
    {
        for (int i = 0; i < into.Length; i++) into[i] = read(bytes.Slice(i * size, size));
    }
}
