namespace Sharpgrad;

/// <summary>Element type of a <see cref="Tensor"/>.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float, the default.</summary>
    Float32,

    /// <summary>64-bit IEEE float, used for gradient checks and where precision matters.</summary>
    Float64,
}

/// <summary>Helpers for <see cref="DType"/>.</summary>
public static class DTypeExtensions
{
    /// <summary>The name PyTorch uses for the dtype (float32, float64).</summary>
    public static string Name(this DType dtype) => dtype == DType.Float32 ? "float32" : "float64";

    /// <summary>Size of one element in bytes.</summary>
    public static int ElementSize(this DType dtype) => dtype == DType.Float32 ? 4 : 8;

    internal static DType Of<T>() => typeof(T) == typeof(float) ? DType.Float32
        : typeof(T) == typeof(double) ? DType.Float64
        : throw new NotSupportedException($"Sharpgrad: element type {typeof(T).Name} is not supported (expected float or double).");
}
