using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

// Convolutions with 2x2 max pooling after them: which kernel pools, and the pooled forwards (inference with ReLU and
// an optional per-channel affine map; training with the maxima's positions).
internal static partial class Conv2dKernels
{
    /// <summary>
    /// Whether <see cref="ForwardReluMaxPool"/> runs this float32 convolution fused with ReLU and 2x2 max pooling: the
    /// direct 3x3 kernels apply (<see cref="UsesDirect3x3"/>), the small-reduction one does
    /// (<see cref="DirectConvRows.Applies"/>) or the one-channel one does (<see cref="SingleChannelConv3x3.Applies"/>),
    /// and the output is at least 2x2.
    /// </summary>
    public static bool FusesReluMaxPool(in Conv2dGeometry g, int outChannels, int groups) =>
        (UsesDirect3x3(g, outChannels, groups) || DirectConvRows.Applies(g, groups) || (groups == 1 && SingleChannelConv3x3.Applies(g, outChannels)))
        && g.OH >= 2 && g.OW >= 2;

    /// <summary>
    /// Whether <see cref="ForwardReluMaxPool"/> takes the convolution's weights in the direct kernels' transposed
    /// (C,3,3,OC) layout (<see cref="DirectConv3x3.TransposeWeights(ReadOnlySpan{float}, Span{float}, int, int)"/>), which callers may keep between calls.
    /// </summary>
    public static bool PoolsWithTransposedWeights(in Conv2dGeometry g, int outChannels) =>
        (SingleChannelConv3x3.Applies(g, outChannels) && !SingleChannelConv3x3.Off) || (UsesDirect3x3(g, outChannels, 1) && !PoolsSingleChannelInRows(g));

    /// <summary>
    /// Whether <see cref="BackwardFromMaxPool"/> gives this float32 convolution's weight (and bias) gradients from the
    /// gradient of its 2x2 max pooling bitwise as <see cref="Backward{T}"/> would from the unpooled gradient: the direct
    /// 3x3 weight gradient runs (<see cref="UsesDirect3x3"/>, not the channel kernel), and the bias gradient, when
    /// wanted, is summed per image (not in the blocks of small maps).
    /// </summary>
    public static bool BackwardsFromMaxPool(in Conv2dGeometry g, int outChannels, int n, bool wantBias) =>
        UsesDirect3x3(g, outChannels, 1) && !UsesChannelWeightGradient(g, outChannels) && g.OH >= 2 && g.OW >= 2
        && !(wantBias && n > 1 && 2 * g.L <= BlockColumns);

    // x: (N,C,H,W), dpool: (N,OC,OH/2,OW/2) with its argmax in the (OH,OW) planes -> dw: (OC,C,3,3), db: (OC)?, the
    // gradients of conv2d followed by 2x2 max pooling without the unpooled gradient in memory; only where
    // BackwardsFromMaxPool
    public static void BackwardFromMaxPool(float[] x, float[] dpool, int[] argmax, float[] dw, float[]? db, int n, int oc, in Conv2dGeometry g)
    {
        if (!BackwardsFromMaxPool(g, oc, n, db is not null)) throw new ArgumentException($"BackwardFromMaxPool: the direct 3x3 weight gradient does not run this convolution ({g}, {oc} filters).");
        DirectConv3x3.WeightGradientFromPooled(x, dpool, argmax, dw, db, n, g.C, g.H, g.W, oc, g.SH);
    }

    /// <summary>
    /// Whether <see cref="ForwardReluMaxPool"/> runs a one-channel convolution that the direct 3x3 kernels would take
    /// (a Fashion-MNIST model's first layer) on <see cref="DirectConvRows"/> instead: 4 filters x 2 rows a step over
    /// the 9 taps, pooled in registers.
    /// </summary>
    // measured on the 2-core AVX-512 EPYC, batch 256, alternating, least of 15 40-ms windows: cnn3's 1 -> 32 at
    // 28x28 851-903 -> 741-743 us, the exam CNN's 1 -> 16 525-527 -> 457-467 us; whole models cnn3 11.36-11.38 ->
    // 10.15-11.06 ms, exam CNN (1x28x28) 1.40-1.56 -> 1.31-1.32 ms. Not with 3 channels (3x32x32: 1.30-1.32 against
    // 1.29-1.48 ms), nor 16 (1.8-1.9 -> 3.1-4.2 ms), nor unpooled in training (exam CNN step 5.0-5.1 -> 5.2-5.5 ms)
    public static bool PoolsSingleChannelInRows(in Conv2dGeometry g) => g.C == 1 && DirectConvRows.Applies(g, 1);

    /// <summary>
    /// Whether <see cref="ForwardReluMaxPool"/> runs this 3x3 convolution in <see cref="ChannelConv3x3.ForwardReluMaxPool"/>
    /// (the channel tiles, ReLU, the 2x2 windows pooled and mapped in the pixel-major scratch, only the pooled map
    /// transposed) rather than the row kernel's pooled store: where the channel kernel runs the plain convolution
    /// (<see cref="UsesChannelConv3x3"/>: AVX2, or AVX-512 with 16k filters and rows its 7-pixel segments fill as well as 16 lanes) and
    /// the output is at least 2x2.
    /// </summary>
    // measured on the 2-core AVX-512 VM of issue #11 (alternating 50-ms windows in one process, least of 15, with an
    // affine map): cnn3's 32 -> 64 at 14x14 1.05-1.11x, its 64 -> 64 at 7x7 1.10-1.13x (that layer stored the full map
    // and pooled it in a second pass before), the exam CNN's 16 -> 16 at 14x14 1.07x, at batch 256; at batch 1 (one
    // thread) 1.15x, 1.04x and 1.10x. Where the row kernel fills its lanes it stays: 3 -> 16 at 32x32 0.86x, 16 -> 16
    // at 16x16 0.76x, 16 -> 32 at 16x16 0.85x, 32 -> 64 at 32x32 0.95x. cnn3's forward at batch 256: 1.06-1.08x
    public static bool PoolsInChannelConv3x3Relu(in Conv2dGeometry g, int outChannels) =>
        UsesChannelConv3x3(g, outChannels) && g.OH >= 2 && g.OW >= 2;

    // x: (N,C,H,W), w: (OC,C,KH,KW), b: (OC)? -> y: (N,OC,OH/2,OW/2) = max_pool2d(relu(conv2d(x, w) + b), 2) (stride 2,
    // floor), the full-size output never stored, then y * scale[o] + shift[o] when given; only where FusesReluMaxPool.
    // transposed (3x3 only): w already in the direct kernels' (C,3,3,OC) layout (DirectConv3x3.TransposeWeights), or
    // null to transpose it here into pooled scratch
    public static void ForwardReluMaxPool(float[] x, float[] w, float[]? b, float[] y, int n, int oc, in Conv2dGeometry g, float[]? scale = null, float[]? shift = null,
        float[]? transposed = null)
    {
        if (!FusesReluMaxPool(g, oc, 1)) throw new ArgumentException($"ForwardReluMaxPool: the direct kernels do not run this convolution ({g}, {oc} filters).");
        if (SingleChannelConv3x3.Applies(g, oc) && !SingleChannelConv3x3.Off)
        {
            // one input channel: the filters in the lanes, a pooling window's four outputs from one 4x4 patch
            using var w9 = TransposedWeights.Of(w, transposed, oc, 1, 9);
            SingleChannelConv3x3.ForwardReluMaxPool(x, w9.Array, b, y, n, oc, g, scale, shift);
            return;
        }
        if (!UsesDirect3x3(g, oc, 1) || PoolsSingleChannelInRows(g))
        {
            // small reductions (lenet5's 5x5 layers, a one-channel 3x3): pooled as the row pairs leave their registers
            DirectConvRows.Forward(x, w, b, y, n, oc, g, relu: true, pool: true, scale, shift);
            return;
        }
        using var wt = TransposedWeights.Of(w, transposed, oc, g.C, 9);
        // the channel kernel pools its pixel-major scratch (PoolsInChannelConv3x3Relu); the row kernel pools in registers
        if (PoolsInChannelConv3x3Relu(g, oc)) ChannelConv3x3.ForwardReluMaxPool(x, wt.Array, b, y, n, g.C, g.H, g.W, oc, g.SH, scale, shift);
        else DirectConv3x3.Forward(x, wt.Array, b, y, n, g.C, g.H, g.W, oc, relu: true, stride: g.SH, pool: true, scale, shift);
    }

    /// <summary>
    /// Whether <see cref="ForwardMaxPool"/> runs this float32 convolution + 2x2 max pooling (with the maxima's positions,
    /// as a training step needs them) inside <see cref="ChannelConv3x3"/>, pooling its pixel-major scratch before the
    /// transpose: where the channel kernel applies (AVX-512, 16k filters, stride 1 or 2), the output is at least 2x2,
    /// and either the channel kernel runs the plain convolution (<see cref="UsesChannelConv3x3"/>) or there are at most
    /// 32 input channels, where the pooled pixel-major store saves more than the channel kernel's 7-pixel segments
    /// waste on rows the row kernel fills. On the 2-core AVX-512 VM of issue #11 (alternating processes against the
    /// stored map pooled by MaxPool2d's kernel): the exam CNN's training step at 1x28x28 batch 128 (both layers)
    /// 5.28-6.77 -> 4.14-4.56 ms, at batch 64 2.69-3.07 -> 2.44-3.09 ms; cnn3's at batch 128 22.2 -> 20.0-21.0 ms. The
    /// wider rows, the forward alone against the row kernel + MaxPool2d (batch 64, alternating windows in one process):
    /// 3 -> 16 at 32x32 1.75x, 3 -> 64 at 32x32 1.48x, 16 -> 32 at 16x16 1.09x, 32 -> 64 at 32x32 1.12x, 64 -> 64 at
    /// 32x32 1.03x, 64 -> 128 at 16x16 0.90x (so from 64 channels on the row kernel stays); the exam CNN's training
    /// step at 3x32x32 batch 64 2.21 / 2.25 -> 1.95 / 1.98 ms.
    /// </summary>
    public static bool PoolsInChannelConv3x3(in Conv2dGeometry g, int outChannels) =>
        UsesDirect3x3(g, outChannels, 1) && Path is Gemm.KernelPath.Vector512 or Gemm.KernelPath.Vector256 && ChannelConv3x3.Applies(g, outChannels)
        && (UsesChannelConv3x3(g, outChannels) || g.C <= 32) && g.OH >= 2 && g.OW >= 2;

    // x: (N,C,H,W), w: (OC,C,3,3), b: (OC)? -> y: (N,OC,OH/2,OW/2) = max_pool2d(conv2d(x, w) + b, 2) and argmax: each
    // maximum's index in its (OH,OW) plane, bitwise what MaxPool2d's kernel gives for the stored convolution; only
    // where PoolsInChannelConv3x3. transposed: w in the direct kernels' (C,3,3,OC) layout, or null to make it here
    public static void ForwardMaxPool(float[] x, float[] w, float[]? b, float[] y, int[] argmax, int n, int oc, in Conv2dGeometry g, float[]? transposed = null)
    {
        if (!PoolsInChannelConv3x3(g, oc)) throw new ArgumentException($"ForwardMaxPool: the channel kernel does not run this convolution ({g}, {oc} filters).");
        using var wt = TransposedWeights.Of(w, transposed, oc, g.C, 9);
        // one input channel: the filters in the lanes (the channel kernel's reduction would be 9 long)
        if (SingleChannelConv3x3.Applies(g, oc) && !SingleChannelConv3x3.Off) SingleChannelConv3x3.ForwardMaxPool(x, wt.Array, b, y, argmax, n, oc, g);
        else ChannelConv3x3.ForwardMaxPool(x, wt.Array, b, y, argmax, n, g.C, g.H, g.W, oc, g.SH);
    }
}
