using System.Numerics;
using System.Numerics.Tensors;

namespace Sharpgrad.Kernels;

/// <summary>
/// A fully connected layer's products on spans (PyTorch's torch.nn.functional.linear): y = x W^T + b with the bias
/// written first and the product accumulated onto it (as torch.addmm), and the three gradients each one GEMM or sum,
/// W read in place in both layouts (no transposed copy). <see cref="Gemm"/> does the multiplying and the threading.
/// </summary>
internal static class LinearKernels
{
    // x: (rows, in), w: (out, in), b: (out)? -> y: (rows, out) = x w^T + b
    public static void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b, Span<T> y, int rows, int inFeatures, int outFeatures, bool hasBias)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (hasBias)
            for (int r = 0; r < rows; r++) b[..outFeatures].CopyTo(y.Slice(r * outFeatures, outFeatures));
        Gemm.Multiply<T>(rows, outFeatures, inFeatures, x, inFeatures, 1, w, 1, inFeatures, y, outFeatures, accumulate: hasBias);
    }

    // dy: (rows, out), x: (rows, in), w: (out, in) -> dx: (rows, in) = dy w, dw: (out, in) = dy^T x, db: (out) = the
    // column sums of dy (rows added in order); each only when its span is not empty
    public static void Backward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> dx, Span<T> dw, Span<T> db, int rows, int inFeatures, int outFeatures)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!dx.IsEmpty) Gemm.Multiply<T>(rows, inFeatures, outFeatures, dy, outFeatures, 1, w, inFeatures, 1, dx, inFeatures, accumulate: false);
        if (!dw.IsEmpty) Gemm.Multiply<T>(outFeatures, inFeatures, rows, dy, 1, outFeatures, x, inFeatures, 1, dw, inFeatures, accumulate: false);
        if (!db.IsEmpty)
        {
            var sum = db[..outFeatures];
            sum.Clear();
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(sum, dy.Slice(r * outFeatures, outFeatures), sum);
        }
    }
}
