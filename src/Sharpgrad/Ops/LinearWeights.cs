using System.Runtime.CompilerServices;
using Sharpgrad.Kernels;

namespace Sharpgrad;

/// <summary>
/// A parameter's Linear weights packed as the GEMM's B operand, kept between calls: w: (out, in) read as W^T (in, out)
/// -> NR-wide panels per pass over K (<see cref="Gemm.PackedB{T}"/>), redone only when the weights change (their
/// <see cref="Tensor.Version"/> or storage) or the kernel path does. Packing W^T (8 x 8 transposes) was 4% of the mlp's
/// batch-256 forward. Kept, as <see cref="DirectConvWeights"/>, for a leaf float32 tensor that requires gradients (a
/// model's parameter) or whose storage was marked with <see cref="Tensor.KeepKernelLayouts"/>; the caller asks only
/// without gradients (evaluation), where the weights do not change from call to call.
/// </summary>
internal static class LinearWeights
{
    private sealed class Entry
    {
        public Array? Storage;
        public int Offset;
        public int Version = -1;
        public Gemm.PackedB<float>? Packed;
    }

    // keyed by the storage's version counter: one per storage (views share it), never reused by another tensor
    private static readonly ConditionalWeakTable<VersionCounter, Entry> Cache = [];

    /// <summary>The packed W^T of <paramref name="weight"/> (out, in) float32, or null where it is not kept.</summary>
    public static Gemm.PackedB<float>? Of(Tensor weight)
    {
        if (weight.DType != DType.Float32 || !weight.IsLeaf || !(weight.RequiresGrad || weight.VersionRef.KeepsLayouts) || weight.VersionRef.External || !weight.IsContiguous || weight.Rank != 2) return null;
        var entry = Cache.GetValue(weight.VersionRef, _ => new Entry());
        lock (entry)
        {
            int outF = weight.Dims[0], inF = weight.Dims[1];
            var packed = entry.Packed;
            if (packed is null || entry.Version != weight.Version || !ReferenceEquals(entry.Storage, weight.Storage) || entry.Offset != weight.Offset
                || packed.K != inF || packed.N != outF || packed.Path != Gemm.Path)
            {
                // a new array each time: another thread may still be reading the old panels
                packed = Gemm.PackB<float>(inF, outF, weight.Span<float>(), rsB: 1, csB: inF);
                (entry.Packed, entry.Storage, entry.Offset, entry.Version) = (packed, weight.Storage, weight.Offset, weight.Version);
            }
            return packed;
        }
    }
}
