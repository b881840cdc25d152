namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// Training-mode dropout (Srivastava et al. 2014, inverted as PyTorch's <c>F.dropout</c>): each element is zeroed
    /// with probability <paramref name="p"/> and the rest are scaled by 1 / (1 - p), so the expected value is
    /// unchanged; p = 1 multiplies every element by 0, as PyTorch does. x: any shape -> same shape. The mask draws one
    /// uniform number per element from <paramref name="generator"/> (default <see cref="Generator.Default"/>) in
    /// element order and lives in pooled memory inside a <see cref="TensorScope"/>; the gradient is the upstream
    /// gradient times the same mask (through <see cref="Mul(Tensor)"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> outside [0, 1].</exception>
    public Tensor Dropout(double p, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"Dropout: probability must be in [0, 1], got {p}.");
        if (p == 0) return this;
        var g = generator ?? Generator.Default;
        var mask = Empty(DType, (int[])Dims.Clone());
        double scale = p == 1 ? 0 : 1 / (1 - p);
        if (DType == DType.Float32)
        {
            var m = mask.Span<float>();
            float keep = (float)scale;
            for (int i = 0; i < m.Length; i++) m[i] = g.NextSingle() >= p ? keep : 0f;
        }
        else
        {
            var m = mask.Span<double>();
            for (int i = 0; i < m.Length; i++) m[i] = g.NextDouble() >= p ? scale : 0d;
        }
        return Mul(mask);
    }
}
