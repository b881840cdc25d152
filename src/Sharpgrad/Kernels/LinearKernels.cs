using System.Numerics;
using System.Numerics.Tensors;

namespace Sharpgrad.Kernels;

/// <summary>
/// A fully connected layer's products on spans (PyTorch's torch.nn.functional.linear): y = x W^T + b with the bias
/// (and a fused ReLU) added to each tile of y as the GEMM finishes it, and the three gradients each one GEMM or sum,
/// W read in place in both layouts (no transposed copy). <see cref="Gemm"/> does the multiplying and the threading.
/// </summary>
internal static class LinearKernels
{
    // x: (rows, in), w: (out, in), b: (out)? -> y: (rows, out) = x w^T + b, max(., 0) when relu; the bias (and ReLU)
    // applied to each tile of y as the GEMM finishes it (its epilogue), so y = (sum of products) + b
    // packed: W^T's panels kept between calls (LinearWeights), or null to pack per call
    public static void Forward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b, Span<T> y, int rows, int inFeatures, int outFeatures, bool hasBias, bool relu = false,
        Gemm.PackedB<T>? packed = null)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Gemm.MultiplyPacked<T>(rows, outFeatures, inFeatures, x, inFeatures, 1, w, 1, inFeatures, packed, y, outFeatures, accumulate: false,
            hasBias ? b[..outFeatures] : default, relu);

    /// <summary>Whether the forward product of this shape would read kept W^T panels (<see cref="Gemm.PacksB{T}"/>).</summary>
    public static bool UsesPackedWeights<T>(int rows, int inFeatures, int outFeatures) where T : unmanaged, IFloatingPointIeee754<T>
        => Gemm.PacksB<T>(rows, outFeatures, inFeatures, csA: 1, rsB: 1, csB: inFeatures);

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
