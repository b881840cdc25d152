using System.Numerics.Tensors;
using Sharpgrad.Kernels;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32) => Full(shape, 0.0, dtype);

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32) => Full(shape, 1.0, dtype);

    /// <summary>Zeros with the shape and dtype of <paramref name="t"/>.</summary>
    public static Tensor ZerosLike(Tensor t) => Zeros(t.Shape, t.DType);

    /// <summary>Ones with the shape and dtype of <paramref name="t"/>.</summary>
    public static Tensor OnesLike(Tensor t) => Ones(t.Shape, t.DType);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Shapes.Validate("Full", shape);
        var t = EmptyUnpooled(dtype, (int[])shape.Clone());
        if (dtype == DType.Float32) t.Span<float>().Fill((float)value);
        else t.Span<double>().Fill(value);
        return t;
    }

    /// <summary>A zero-dimensional tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32) => Full([], value, dtype);

    /// <summary>Values start, start+step, ... below end, as torch.arange.</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32)
    {
        if (step == 0 || double.IsNaN(step)) throw new ArgumentOutOfRangeException(nameof(step), "Arange: step must be non-zero.");
        long n = (long)Math.Ceiling((end - start) / step);
        if (n < 0) throw new ArgumentException($"Arange: range [{start}, {end}) with step {step} goes the wrong way.");
        var t = EmptyUnpooled(dtype, [(int)n]);
        for (int i = 0; i < n; i++)
        {
            double v = start + i * step;
            if (dtype == DType.Float32) t.Array<float>()[i] = (float)v;
            else t.Array<double>()[i] = v;
        }
        return t;
    }

    /// <summary>Values 0, 1, ..., n-1.</summary>
    public static Tensor Arange(int n, DType dtype = DType.Float32) => Arange(0, n, 1, dtype);

    /// <summary>A float32 tensor holding a copy of <paramref name="data"/>, by default as a vector.</summary>
    public static Tensor FromArray(float[] data, params int[] shape) => WrapCore((float[])(data ?? throw new ArgumentNullException(nameof(data))).Clone(), shape, "FromArray");

    /// <summary>A float64 tensor holding a copy of <paramref name="data"/>, by default as a vector.</summary>
    public static Tensor FromArray(double[] data, params int[] shape) => WrapCore((double[])(data ?? throw new ArgumentNullException(nameof(data))).Clone(), shape, "FromArray");

    /// <summary>
    /// A float32 tensor that uses <paramref name="data"/> as its storage, without a copy: later writes to the array
    /// show in the tensor (no kernel keeps a copy of it in its own layout, as it does for parameters). For loaders that
    /// build a fresh array per batch.
    /// </summary>
    public static Tensor Wrap(float[] data, params int[] shape) => WrapExternal(data, shape);

    /// <summary>A float64 tensor that uses <paramref name="data"/> as its storage, without a copy (later writes to the array show in the tensor).</summary>
    public static Tensor Wrap(double[] data, params int[] shape) => WrapExternal(data, shape);

    private static Tensor WrapExternal<T>(T[] data, int[] shape)
    {
        var t = WrapCore(data, shape, "Wrap");
        t.VersionRef.External = true;
        return t;
    }

    internal static Tensor WrapCore<T>(T[] data, int[] shape, string op)
    {
        ArgumentNullException.ThrowIfNull(data);
        shape = shape is null || shape.Length == 0 ? [data.Length] : (int[])shape.Clone();
        Shapes.Validate(op, shape);
        if (Shapes.Numel(shape) != data.Length)
            throw new ArgumentException($"{op}: shape {Shapes.Format(shape)} needs {Shapes.Numel(shape)} elements, got {data.Length}.");
        return new Tensor(data, shape);
    }

    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor Rand(int[] shape, Generator? generator = null, DType dtype = DType.Float32) => Uniform(shape, 0, 1, generator, dtype);

    /// <summary>Uniform samples in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Tensor Uniform(int[] shape, double low, double high, Generator? generator = null, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Shapes.Validate("Uniform", shape);
        if (!(high >= low)) throw new ArgumentException($"Uniform: expected low <= high, got [{low}, {high}).");
        var g = generator ?? Generator.Default;
        var t = EmptyUnpooled(dtype, (int[])shape.Clone());
        if (dtype == DType.Float32)
        {
            var s = t.Span<float>();
            for (int i = 0; i < s.Length; i++) s[i] = (float)(low + (high - low) * g.NextSingle());
        }
        else
        {
            var s = t.Span<double>();
            for (int i = 0; i < s.Length; i++) s[i] = low + (high - low) * g.NextDouble();
        }
        return t;
    }

    /// <summary>Standard normal samples (mean 0, standard deviation 1).</summary>
    public static Tensor Randn(int[] shape, Generator? generator = null, DType dtype = DType.Float32)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Shapes.Validate("Randn", shape);
        var g = generator ?? Generator.Default;
        var t = EmptyUnpooled(dtype, (int[])shape.Clone());
        if (dtype == DType.Float32)
        {
            var s = t.Span<float>();
            for (int i = 0; i < s.Length; i++) s[i] = (float)g.NextNormal();
        }
        else
        {
            var s = t.Span<double>();
            for (int i = 0; i < s.Length; i++) s[i] = g.NextNormal();
        }
        return t;
    }

    /// <summary>A copy converted to <paramref name="dtype"/> (this tensor itself if it already has it). Not recorded by autograd.</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return this;
        var c = ContiguousRaw();
        var y = Empty(dtype, Shape);
        if (dtype == DType.Float64) TensorPrimitives.ConvertChecked<float, double>(c.Span<float>(), y.Span<double>());
        else TensorPrimitives.ConvertTruncating<double, float>(c.Span<double>(), y.Span<float>());
        return y;
    }

    /// <summary>
    /// Copies <paramref name="source"/> (broadcastable to this shape, same dtype) into this tensor's elements,
    /// writing through to shared storage. Not recorded by autograd; increments <see cref="Version"/>. A source that shares
    /// storage with this tensor is copied first, so overlapping views copy as memmove would.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes that do not broadcast, other dtypes, or a destination whose elements share memory (an expanded view).</exception>
    /// <exception cref="InvalidOperationException">While gradients are recorded: this tensor was computed by a recorded op, or is a leaf that requires grad.</exception>
    public void CopyFrom(Tensor source)
    {
        ArgumentNullException.ThrowIfNull(source);
        CheckSameDType("CopyFrom", this, source);
        var b = Shapes.Broadcast("CopyFrom", Dims, source.Dims);
        if (!Shapes.SameShape(b, Dims))
            throw new ArgumentException($"CopyFrom: source shape {Shapes.Format(source.Dims)} does not broadcast to destination shape {Shapes.Format(Dims)}.");
        if (NumElements == 0) return;
        CheckWritable("CopyFrom");
        for (int i = 0; i < Rank; i++)
            if (StrideArr[i] == 0 && Dims[i] > 1)
                throw new ArgumentException($"CopyFrom: the destination of shape {Shapes.Format(Dims)} has elements that share memory (an expanded view, stride 0 on axis {i}); copy into a Contiguous() tensor.");
        if (ReferenceEquals(source.Storage, Storage)) source = source.Contiguous(force: true); // overlapping views: copy as memmove would
        BumpVersion();
        if (DType == DType.Float32) CopyInto<float>(source);
        else CopyInto<double>(source);
    }

    private void CopyInto<T>(Tensor source) =>
        Strided.CopyInto(source.Array<T>(), source.Offset, Shapes.BroadcastStrides(source.Dims, source.StrideArr, Dims), Array<T>(), Offset, StrideArr, Dims);
}
