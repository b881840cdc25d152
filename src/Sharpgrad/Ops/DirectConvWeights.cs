using System.Runtime.CompilerServices;
using Sharpgrad.Kernels;

namespace Sharpgrad;

/// <summary>
/// A parameter's 3x3 (or 1x1) weights in the direct kernels' layout, kept between calls: w: (OC,C,KH,KW) -> (C,KH,KW,OC)
/// (<see cref="DirectConv3x3.TransposeWeights(ReadOnlySpan{float}, Span{float}, int, int, int)"/>), redone only when
/// the weights change (their <see cref="Tensor.Version"/>
/// or storage). Transposing each call was 11% of cnn3's batch-1 forward on the main thread. Kept for a leaf tensor
/// that requires gradients (a model's parameter, which lives as long as the model) or whose storage was marked with
/// <see cref="Tensor.KeepKernelLayouts"/> (a fused model's folded batch norm), for as long as the
/// storage lives; other weights (temporaries) are transposed into pooled scratch by the kernels as before.
/// </summary>
internal static class DirectConvWeights
{
    private sealed class Entry
    {
        public Array? Storage;
        public int Offset;
        public int Version = -1;
        public (int OC, int C, int KH, int KW) Shape;
        public float[] Transposed = [];
    }

    // keyed by the storage's version counter: one per storage (views share it), never reused by another tensor
    private static readonly ConditionalWeakTable<VersionCounter, Entry> Cache = [];

    /// <summary>
    /// The transposed weights (C,KH,KW,OC) of <paramref name="weight"/> (OC,C,KH,KW) float32 (3x3 for the direct
    /// kernels, 1x1 for the channel-vectorized pointwise one), or null where they are not kept (the
    /// caller then lets the kernel transpose into scratch).
    /// </summary>
    public static float[]? Of(Tensor weight)
    {
        if (weight.DType != DType.Float32 || !weight.IsLeaf || !(weight.RequiresGrad || weight.VersionRef.KeepsLayouts) || weight.VersionRef.External || !weight.IsContiguous || weight.Rank != 4) return null;
        var entry = Cache.GetValue(weight.VersionRef, _ => new Entry());
        lock (entry)
        {
            int oc = weight.Dims[0], c = weight.Dims[1], taps = weight.Dims[2] * weight.Dims[3], size = oc * c * taps;
            var shape = (oc, c, weight.Dims[2], weight.Dims[3]);
            bool sameView = ReferenceEquals(entry.Storage, weight.Storage) && entry.Offset == weight.Offset && entry.Shape == shape;
            if (!sameView || entry.Version != weight.Version)
            {
                // another view of the storage (a reshape with the channels the other way round, another offset): its
                // own layout in a new array, so that a caller still reading the previous view's (another thread) is
                // not overwritten; the same view with new values (an optimizer step) is redone in place
                if (!sameView) entry.Transposed = new float[size];
                DirectConv3x3.TransposeWeights(weight.Span<float>(), entry.Transposed, oc, c, taps);
                (entry.Storage, entry.Offset, entry.Version, entry.Shape) = (weight.Storage, weight.Offset, weight.Version, shape);
            }
            return entry.Transposed;
        }
    }
}
