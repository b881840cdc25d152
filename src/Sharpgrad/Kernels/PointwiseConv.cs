using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>
/// Direct 1x1 convolution (stride 1, no padding, ungrouped), float32, on 512-bit registers (AVX2: 4 filters x 3
/// registers of 8 pixels a tile, 16 registers), vectorized over output
/// pixels in place in NCHW: a tile is 8 output channels x 3 registers of 16 pixels (24 accumulators); each input
/// channel loads the 3 pixel registers of its plane and broadcasts the 8 weights, then the tile adds nothing more and
/// stores (bias first, the input channels in order, ReLU at the store). No packing, no im2col, no gather of images
/// side by side and no bias pass afterwards: where the GEMM (<see cref="Gemm"/>) spends most of a small reduction
/// (mobilenet's 16 and 32 input channels) packing and storing. A plane's last partial register is the 16 pixels
/// that end the plane, overlapping the register before (the same sums again, stored again); a last group of fewer
/// than 3 registers repeats its last one. <see cref="Conv2dReference"/> is the oracle; <see cref="Conv2dKernels"/>
/// chooses it.
/// </summary>
internal static partial class PointwiseConv
{
    private const int Filters = 8, Registers = 3, V = 16;

    /// <summary>
    /// Whether <see cref="Forward"/> runs the convolution: AVX-512 with filters a multiple of 8 or AVX2 with filters a
    /// multiple of 4, a 1x1 kernel, stride 1, no padding, one group, and planes of at least <see cref="MinPixels"/> pixels.
    /// </summary>
    // AVX2, measured on the 2-core AMD EPYC without AVX-512 (alternating windows in one process): mobilenet's Predict
    // at batch 256 1.19x (median 1.11x) against the GEMM; its training step 1.00x (median 1.02x)
    public static bool Applies(in Conv2dGeometry g, int outChannels, int groups) =>
        (Conv2dKernels.Path == Gemm.KernelPath.Vector512 && outChannels % Filters == 0
            || Conv2dKernels.Path == Gemm.KernelPath.Vector256 && !Avx2Off && outChannels % Filters256 == 0)
        && groups == 1 && g is { KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0 } && g.L >= MinPixels;

    // AVX2's tile: 4 filters x 3 registers of 8 pixels (12 accumulators + 3 pixel registers + a broadcast weight = 16)
    private const int Filters256 = 4, V256 = 8;

    /// <summary>Whether AVX2 keeps the GEMM for these 1x1 convolutions: the benchmarks' switch, off otherwise.</summary>
    internal static bool Avx2Off;

    /// <summary>Planes smaller than this keep the GEMM over several images side by side.</summary>
    // measured on the 2-core AVX-512 VM of issue #11, one thread, 5 images (a depth-first part of mobilenet), against
    // im2col-free GEMM (Gemm2d / Gemm2dImages): 16 -> 32 at 28x28 45.7 -> 25.4 us, 32 -> 64 at 14x14 42.8 -> 27.3 us;
    // batch 256 16 -> 32 at 28x28 3.87 -> 2.75 ms. mobilenet's Predict at batch 256 1.14x, at batch 1 (one thread) 1.09x
    // (alternating windows in one process); its training step 1.01x (the backward keeps the GEMMs). 7x7 planes (49
    // pixels: three registers' work in six) keep the GEMM over five images side by side
    public const int MinPixels = 64;

    // x: (N,C,L), w: (OC,C), b: (OC)? -> y: (N,OC,L) = w x + b per image, max(y, 0) when relu; (image, pixel group)
    // pairs split across threads
    public static void Forward(float[] x, float[] w, float[]? b, float[] y, int n, int oc, in Conv2dGeometry g, bool relu)
    {
        if (!Applies(g, oc, 1)) throw new ArgumentException($"PointwiseConv.Forward: needs AVX2 or AVX-512, a 1x1 stride-1 unpadded kernel, filters a multiple of {Filters} (AVX-512) or {Filters256} (AVX2) and at least {MinPixels} pixels, got a {g.KH}x{g.KW} kernel, stride {g.SH}, padding {g.PH}, {oc} filters and {g.L} pixels.");
        int c = g.C, l = g.L;
        if (x.Length < (long)n * c * l || w.Length < oc * c || y.Length < (long)n * oc * l || (b is not null && b.Length < oc))
            throw new ArgumentException($"PointwiseConv.Forward: arrays shorter than the shapes ({n} images, {c} -> {oc} channels, {l} pixels).");
        if (Conv2dKernels.Path == Gemm.KernelPath.Vector256)
        {
            Forward256(x, w, b, y, n, oc, c, l, relu);
            return;
        }
        int vectors = (l + V - 1) / V, groups = (vectors + Registers - 1) / Registers;
        Parallelism.ForBalancedMacs(n * groups, (_, start, end) =>
        {
            for (int job = start; job < end; job++)
            {
                int i = job / groups, gi = job % groups;
                // the group's three register offsets: whole registers, the plane's last one ending the plane
                int r0 = gi * Registers;
                int o0 = Offset(r0, vectors, l), o1 = Offset(Math.Min(r0 + 1, vectors - 1), vectors, l), o2 = Offset(Math.Min(r0 + 2, vectors - 1), vectors, l);
                for (int f = 0; f < oc; f += Filters) Tile(x, w, b, y, i, c, l, oc, f, o0, o1, o2, relu);
            }
        }, (long)n * oc * c * l);
    }

    // Forward on AVX2: 4 filters x 3 registers of 8 pixels a tile, otherwise as the 512-bit tile (the same sums in the
    // same order)
    private static void Forward256(float[] x, float[] w, float[]? b, float[] y, int n, int oc, int c, int l, bool relu)
    {
        int vectors = (l + V256 - 1) / V256, groups = (vectors + Registers - 1) / Registers;
        Parallelism.ForBalancedMacs(n * groups, (_, start, end) =>
        {
            for (int job = start; job < end; job++)
            {
                int i = job / groups, gi = job % groups, r0 = gi * Registers;
                int o0 = Offset256(r0, vectors, l), o1 = Offset256(Math.Min(r0 + 1, vectors - 1), vectors, l), o2 = Offset256(Math.Min(r0 + 2, vectors - 1), vectors, l);
                for (int f = 0; f < oc; f += Filters256) Tile256(x, w, b, y, i, c, l, oc, f, o0, o1, o2, relu);
            }
        }, (long)n * oc * c * l);
    }

    private static int Offset256(int r, int vectors, int l) => r == vectors - 1 ? l - V256 : r * V256;

    // image i, filters [f, f + 4), pixels at o0, o1, o2 (8 each) -> y
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256(float[] x, float[] w, float[]? b, float[] y, int i, int c, int l, int oc, int f, int o0, int o1, int o2, bool relu)
    {
        ref float px = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * l);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w), f * c);
        Vector256<float> a0, a1, a2, a3;
        if (b is null) a0 = a1 = a2 = a3 = Vector256<float>.Zero;
        else
        {
            ref float pb = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(b), f);
            a0 = Vector256.Create(pb); a1 = Vector256.Create(Unsafe.Add(ref pb, 1)); a2 = Vector256.Create(Unsafe.Add(ref pb, 2)); a3 = Vector256.Create(Unsafe.Add(ref pb, 3));
        }
        Vector256<float> b0 = a0, b1 = a1, b2 = a2, b3 = a3;
        Vector256<float> c0 = a0, c1 = a1, c2 = a2, c3 = a3;
        nuint u0 = (nuint)o0, u1 = (nuint)o1, u2 = (nuint)o2, cs = (nuint)c;
        for (int ci = 0; ci < c; ci++)
        {
            ref float row = ref Unsafe.Add(ref px, (nint)ci * l);
            var x0 = Vector256.LoadUnsafe(ref row, u0);
            var x1 = Vector256.LoadUnsafe(ref row, u1);
            var x2 = Vector256.LoadUnsafe(ref row, u2);
            ref float wc = ref Unsafe.Add(ref pw, ci);
            var wv = Vector256.Create(wc); a0 = Vector256.FusedMultiplyAdd(x0, wv, a0); b0 = Vector256.FusedMultiplyAdd(x1, wv, b0); c0 = Vector256.FusedMultiplyAdd(x2, wv, c0);
            wv = Vector256.Create(Unsafe.Add(ref wc, cs)); a1 = Vector256.FusedMultiplyAdd(x0, wv, a1); b1 = Vector256.FusedMultiplyAdd(x1, wv, b1); c1 = Vector256.FusedMultiplyAdd(x2, wv, c1);
            wv = Vector256.Create(Unsafe.Add(ref wc, 2 * cs)); a2 = Vector256.FusedMultiplyAdd(x0, wv, a2); b2 = Vector256.FusedMultiplyAdd(x1, wv, b2); c2 = Vector256.FusedMultiplyAdd(x2, wv, c2);
            wv = Vector256.Create(Unsafe.Add(ref wc, 3 * cs)); a3 = Vector256.FusedMultiplyAdd(x0, wv, a3); b3 = Vector256.FusedMultiplyAdd(x1, wv, b3); c3 = Vector256.FusedMultiplyAdd(x2, wv, c3);
        }
        ref float py = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(y), ((nint)i * oc + f) * l);
        nuint ls = (nuint)l;
        Store256(a0, b0, c0, ref py, 0 * ls, u0, u1, u2, relu);
        Store256(a1, b1, c1, ref py, 1 * ls, u0, u1, u2, relu);
        Store256(a2, b2, c2, ref py, 2 * ls, u0, u1, u2, relu);
        Store256(a3, b3, c3, ref py, 3 * ls, u0, u1, u2, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(Vector256<float> a, Vector256<float> b, Vector256<float> c, ref float py, nuint plane, nuint u0, nuint u1, nuint u2, bool relu)
    {
        if (relu)
        {
            a = Vector256.Max(a, Vector256<float>.Zero);
            b = Vector256.Max(b, Vector256<float>.Zero);
            c = Vector256.Max(c, Vector256<float>.Zero);
        }
        c.StoreUnsafe(ref py, plane + u2);
        b.StoreUnsafe(ref py, plane + u1);
        a.StoreUnsafe(ref py, plane + u0);
    }

    // register r of a plane of l pixels starts at r V, the last one at l - V
    private static int Offset(int r, int vectors, int l) => r == vectors - 1 ? l - V : r * V;

    // image i, filters [f, f + 8), pixels at o0, o1, o2 (16 each) -> y
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(float[] x, float[] w, float[]? b, float[] y, int i, int c, int l, int oc, int f, int o0, int o1, int o2, bool relu)
    {
        ref float px = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), (nint)i * c * l);
        ref float pw = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w), f * c);
        Vector512<float> a0, a1, a2, a3, a4, a5, a6, a7;
        if (b is null) a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = Vector512<float>.Zero;
        else
        {
            ref float pb = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(b), f);
            a0 = Vector512.Create(pb); a1 = Vector512.Create(Unsafe.Add(ref pb, 1)); a2 = Vector512.Create(Unsafe.Add(ref pb, 2)); a3 = Vector512.Create(Unsafe.Add(ref pb, 3));
            a4 = Vector512.Create(Unsafe.Add(ref pb, 4)); a5 = Vector512.Create(Unsafe.Add(ref pb, 5)); a6 = Vector512.Create(Unsafe.Add(ref pb, 6)); a7 = Vector512.Create(Unsafe.Add(ref pb, 7));
        }
        Vector512<float> b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5, b6 = a6, b7 = a7;
        Vector512<float> c0 = a0, c1 = a1, c2 = a2, c3 = a3, c4 = a4, c5 = a5, c6 = a6, c7 = a7;
        nuint u0 = (nuint)o0, u1 = (nuint)o1, u2 = (nuint)o2, cs = (nuint)c;
        for (int ci = 0; ci < c; ci++)
        {
            ref float row = ref Unsafe.Add(ref px, (nint)ci * l);
            var x0 = Vector512.LoadUnsafe(ref row, u0);
            var x1 = Vector512.LoadUnsafe(ref row, u1);
            var x2 = Vector512.LoadUnsafe(ref row, u2);
            ref float wc = ref Unsafe.Add(ref pw, ci);
            var wv = Vector512.Create(wc); a0 = Vector512.FusedMultiplyAdd(x0, wv, a0); b0 = Vector512.FusedMultiplyAdd(x1, wv, b0); c0 = Vector512.FusedMultiplyAdd(x2, wv, c0);
            wv = Vector512.Create(Unsafe.Add(ref wc, cs)); a1 = Vector512.FusedMultiplyAdd(x0, wv, a1); b1 = Vector512.FusedMultiplyAdd(x1, wv, b1); c1 = Vector512.FusedMultiplyAdd(x2, wv, c1);
            wv = Vector512.Create(Unsafe.Add(ref wc, 2 * cs)); a2 = Vector512.FusedMultiplyAdd(x0, wv, a2); b2 = Vector512.FusedMultiplyAdd(x1, wv, b2); c2 = Vector512.FusedMultiplyAdd(x2, wv, c2);
            wv = Vector512.Create(Unsafe.Add(ref wc, 3 * cs)); a3 = Vector512.FusedMultiplyAdd(x0, wv, a3); b3 = Vector512.FusedMultiplyAdd(x1, wv, b3); c3 = Vector512.FusedMultiplyAdd(x2, wv, c3);
            wv = Vector512.Create(Unsafe.Add(ref wc, 4 * cs)); a4 = Vector512.FusedMultiplyAdd(x0, wv, a4); b4 = Vector512.FusedMultiplyAdd(x1, wv, b4); c4 = Vector512.FusedMultiplyAdd(x2, wv, c4);
            wv = Vector512.Create(Unsafe.Add(ref wc, 5 * cs)); a5 = Vector512.FusedMultiplyAdd(x0, wv, a5); b5 = Vector512.FusedMultiplyAdd(x1, wv, b5); c5 = Vector512.FusedMultiplyAdd(x2, wv, c5);
            wv = Vector512.Create(Unsafe.Add(ref wc, 6 * cs)); a6 = Vector512.FusedMultiplyAdd(x0, wv, a6); b6 = Vector512.FusedMultiplyAdd(x1, wv, b6); c6 = Vector512.FusedMultiplyAdd(x2, wv, c6);
            wv = Vector512.Create(Unsafe.Add(ref wc, 7 * cs)); a7 = Vector512.FusedMultiplyAdd(x0, wv, a7); b7 = Vector512.FusedMultiplyAdd(x1, wv, b7); c7 = Vector512.FusedMultiplyAdd(x2, wv, c7);
        }
        ref float py = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(y), ((nint)i * oc + f) * l);
        nuint ls = (nuint)l;
        Store(a0, b0, c0, ref py, 0 * ls, u0, u1, u2, relu);
        Store(a1, b1, c1, ref py, 1 * ls, u0, u1, u2, relu);
        Store(a2, b2, c2, ref py, 2 * ls, u0, u1, u2, relu);
        Store(a3, b3, c3, ref py, 3 * ls, u0, u1, u2, relu);
        Store(a4, b4, c4, ref py, 4 * ls, u0, u1, u2, relu);
        Store(a5, b5, c5, ref py, 5 * ls, u0, u1, u2, relu);
        Store(a6, b6, c6, ref py, 6 * ls, u0, u1, u2, relu);
        Store(a7, b7, c7, ref py, 7 * ls, u0, u1, u2, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> a, Vector512<float> b, Vector512<float> c, ref float py, nuint plane, nuint u0, nuint u1, nuint u2, bool relu)
    {
        if (relu)
        {
            a = Vector512.Max(a, Vector512<float>.Zero);
            b = Vector512.Max(b, Vector512<float>.Zero);
            c = Vector512.Max(c, Vector512<float>.Zero);
        }
        // the later registers first: where they repeat or overlap an earlier one, the values are the same
        c.StoreUnsafe(ref py, plane + u2);
        b.StoreUnsafe(ref py, plane + u1);
        a.StoreUnsafe(ref py, plane + u0);
    }
}
