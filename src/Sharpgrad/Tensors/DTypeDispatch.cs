using System.Numerics;
using Sharpgrad.Kernels;

namespace Sharpgrad;

/// <summary>
/// The float32/float64 dispatch, written once: binds tensors to spans of their element type and runs a span kernel
/// on them. The kernel is a struct implementing one of the kernel layer's generic-method interfaces, so the JIT
/// specializes each call for the kernel and the element type (no boxing, no delegate, no allocation).
/// </summary>
internal static class DTypeDispatch
{
    // x -> y (whole spans; the tensors are contiguous and have x's dtype)
    public static void Run<TK>(Tensor x, Tensor y, TK kernel) where TK : struct, ISpanKernel
    {
        if (x.DType == DType.Float32) kernel.Apply(x.Span<float>(), y.Span<float>());
        else kernel.Apply(x.Span<double>(), y.Span<double>());
    }

    // (a, b) -> y (whole spans; the tensors are contiguous and have a's dtype)
    public static void Run<TK>(Tensor a, Tensor b, Tensor y, TK kernel) where TK : struct, ISpanKernel2
    {
        if (a.DType == DType.Float32) kernel.Apply(a.Span<float>(), b.Span<float>(), y.Span<float>());
        else kernel.Apply(a.Span<double>(), b.Span<double>(), y.Span<double>());
    }
}
