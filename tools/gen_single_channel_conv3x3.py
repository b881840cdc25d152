#!/usr/bin/env python3
"""Writes src/Sharpgrad/Kernels/SingleChannelConv3x3.cs (the drivers) and SingleChannelConv3x3.Windows.cs (the
per-image loops), whose window bodies are unrolled by hand-written rules here:
each of a pooling window's 4x4 input patch values is broadcast once and fed to every (output, tap) pair it touches.
Run it after changing the rules: python3 tools/gen_single_channel_conv3x3.py"""
# emits the unrolled window bodies for SingleChannelConv3x3
def body(windows, nv, indent):
    # patch rows 0..3, cols 0..(2*windows+1); pixel (w, dy, dx) at patch col 2w+dx
    out=[]
    ncols = 2*windows + 2
    for r in range(4):
        for s in range(ncols):
            uses=[]
            for w in range(windows):
                for dy in range(2):
                    for dx in range(2):
                        ky, kx = r-dy, s-(2*w+dx)
                        if 0<=ky<3 and 0<=kx<3: uses.append((w,dy,dx,ky*3+kx))
            if not uses: continue
            out.append(f"v = Vector512.Create(Unsafe.Add(ref p, {r} * wp + {s}));")
            for (w,dy,dx,t) in uses:
                for k in range(nv):
                    a=f"a{w}{dy}{dx}{k}"
                    out.append(f"{a} = Vector512.FusedMultiplyAdd(v, w{t}{k}, {a});")
    return "\n".join(indent+l for l in out)
def decl_acc(windows, nv):
    names=[f"a{w}{dy}{dx}{k}" for w in range(windows) for dy in range(2) for dx in range(2) for k in range(nv)]
    return "Vector512<float> " + ", ".join(f"{n} = bias.Item{int(n[-1]) + 1}" for n in names) + ";"
def finish(windows, nv, ind):
    out=[]
    for w in range(windows):
        for k in range(nv):
            out.append(f"Finish(Vector512.Max(Vector512.Max(a{w}00{k}, a{w}01{k}), Vector512.Max(a{w}10{k}, a{w}11{k})), {k}, ref Unsafe.Add(ref s, {w} * oc + {k} * V), sc, sh, affine);")
    return "\n".join(ind+l for l in out)
def finish_train(windows, nv, ind):
    out=[]
    for w in range(windows):
        for k in range(nv):
            out.append(f"Pool(a{w}00{k}, a{w}01{k}, a{w}10{k}, a{w}11{k}, idx + {2 * w}, ow, ref Unsafe.Add(ref s, {w} * oc + {k} * V), ref Unsafe.Add(ref a, {w} * oc + {k} * V));")
    return "\n".join(ind+l for l in out)
def weights(nv, ind):
    out=[]
    for t in range(9):
        out.append(ind + " ".join(f"var w{t}{k} = Vector512.LoadUnsafe(ref wt, (nuint)({t} * oc + {k} * V));" for k in range(nv)))
    return "\n".join(out)
I="            "

def image_methods(train):
    sfx = "Train" if train else ""
    params = "ref float pp, ref float wt, ref float ss, ref int sa, int ph, int pw, int wp, int ow, (Vector512<float>, Vector512<float>) bias" if train else \
        "ref float pp, ref float wt, ref float ss, int ph, int pw, int wp, (Vector512<float>, Vector512<float>) bias,\n        (Vector512<float>, Vector512<float>) sc, (Vector512<float>, Vector512<float>) sh, bool affine"
    fin = finish_train if train else finish
    idx = lambda ind: (ind + "ref int a = ref Unsafe.Add(ref sa, (py * pw + px) * oc);\n" + ind + "int idx = 2 * py * ow + 2 * px; // the window's first output in the (OH, OW) plane\n") if train else ""
    return f"""    // 32 filters: one window (4 outputs x 2 registers) a step{' (training: the maxima and their positions)' if train else ''}
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image32{sfx}({params})
    {{
        const int oc = 32;
{weights(2, "        ")}
        for (int py = 0; py < ph; py++)
            for (int px = 0; px < pw; px++)
            {{
                ref float p = ref Unsafe.Add(ref pp, 2 * py * wp + 2 * px);
                ref float s = ref Unsafe.Add(ref ss, (py * pw + px) * oc);
{idx("                ")}                {decl_acc(1, 2)}
                Vector512<float> v;
{body(1, 2, "                ")}
{fin(1, 2, "                ")}
            }}
    }}

    // 16 filters: two windows (8 outputs x 1 register) a step, an odd last window alone{' (training)' if train else ''}
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image16{sfx}({params})
    {{
        const int oc = 16;
{weights(1, "        ")}
        for (int py = 0; py < ph; py++)
        {{
            int px = 0;
            for (; px + 2 <= pw; px += 2)
            {{
                ref float p = ref Unsafe.Add(ref pp, 2 * py * wp + 2 * px);
                ref float s = ref Unsafe.Add(ref ss, (py * pw + px) * oc);
{idx("                ")}                {decl_acc(2, 1)}
                Vector512<float> v;
{body(2, 1, "                ")}
{fin(2, 1, "                ")}
            }}
            if (px < pw)
            {{
                ref float p = ref Unsafe.Add(ref pp, 2 * py * wp + 2 * px);
                ref float s = ref Unsafe.Add(ref ss, (py * pw + px) * oc);
{idx("                ")}                {decl_acc(1, 1)}
                Vector512<float> v;
{body(1, 1, "                ")}
{fin(1, 1, "                ")}
            }}
        }}
    }}
"""

src = f"""// Generated by tools/gen_single_channel_conv3x3.py (the window bodies unrolled); edit the script, then run it.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>
/// A one-channel 3x3 convolution (stride 1, padding 1) with 2x2 max pooling: a Fashion-MNIST model's first layer (the
/// exam CNN's 1 -> 16, cnn3's 1 -> 32 at 28x28). The filters lie in the lanes (one or two 512-bit registers of 16 or
/// 32 filters), so the 9 x OC weights stay in registers for the whole image, and a pooling window's four outputs are
/// computed together from the 4x4 input patch under it: each of its 16 values is broadcast once and feeds every
/// output and tap it touches (36 multiply-adds per filter register for 16 broadcasts). The window is pooled in
/// registers (for inference with the ReLU and the affine map; for training with the maximum's position), stored
/// pixel-major, and the pooled image transposed to (OC, H/2, W/2) once. The kernels it replaces hold pixels in the
/// lanes (the row kernel <see cref="DirectConvRows"/>: 28-pixel rows fill 28 of 32 lanes, and each multiply-add
/// needs a broadcast weight) or reduce over input channels (<see cref="ChannelConv3x3"/>: one channel is a
/// reduction of 9).
/// </summary>
internal static partial class SingleChannelConv3x3
{{
    private const int V = 16; // floats a 512-bit register holds

    // on: the other kernels take these layers again on this thread (the tests' and benchmarks' other side)
    [ThreadStatic] private static bool t_off;

    internal static bool Off {{ get => t_off; set => t_off = value; }}

    /// <summary>
    /// Whether the kernel applies: float32 on 512-bit registers, one input channel, a 3x3 kernel of stride 1 and
    /// padding 1, 16 or 32 filters, and an input of at least 2x2.
    /// </summary>
    public static bool Applies(in Conv2dGeometry g, int outChannels) =>
        Conv2dKernels.Path == Gemm.KernelPath.Vector512 && g is {{ C: 1, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1 }}
        && outChannels is 16 or 32 && g.H >= 2 && g.W >= 2;

    // x: (N,1,H,W), wt: (9,OC) (the direct kernels' (C,3,3,OC) layout, DirectConv3x3.TransposeWeights), b: (OC)? ->
    // y: (N,OC,H/2,W/2) = max_pool2d(relu(conv2d(x, w) + b), 2) (stride 2, floor), then y * scale[o] + shift[o] when
    // given (a multiply, then an add: the unfused ops' roundings). Each output starts at its bias and adds the taps in
    // row-major order, as the direct kernels do, and max(relu(a_i)) = relu(max(a_i)): bitwise Conv2dRelu then
    // MaxPool2d. Images split over the threads.
    public static void ForwardReluMaxPool(float[] x, float[] wt, float[]? b, float[] y, int n, int oc, in Conv2dGeometry g, float[]? scale, float[]? shift)
    {{
        if ((scale is null) != (shift is null)) throw new ArgumentException("SingleChannelConv3x3.ForwardReluMaxPool: a scale and a shift come together.");
        if (scale is not null && (scale.Length < oc || shift!.Length < oc)) throw new ArgumentException($"SingleChannelConv3x3.ForwardReluMaxPool: a scale and shift of {{oc}} values expected.");
        Run("ForwardReluMaxPool", x, wt, b, y, null, n, oc, g, scale, shift);
    }}

    // x: (N,1,H,W), wt: (9,OC), b: (OC)? -> y: (N,OC,H/2,W/2) = max_pool2d(conv2d(x, w) + b, 2) and argmax: each
    // maximum's index r OW + q in its (OH,OW) plane, chosen as PoolKernels.MaxForward2x2 chooses (the first of equal
    // values, a NaN taken over): bitwise Conv2d then MaxPool2d, the training form (no ReLU)
    public static void ForwardMaxPool(float[] x, float[] wt, float[]? b, float[] y, int[] argmax, int n, int oc, in Conv2dGeometry g) =>
        Run("ForwardMaxPool", x, wt, b, y, argmax, n, oc, g, null, null);

    private static void Run(string op, float[] x, float[] wt, float[]? b, float[] y, int[]? argmax, int n, int oc, in Conv2dGeometry g, float[]? scale, float[]? shift)
    {{
        if (!Applies(g, oc)) throw new ArgumentException($"SingleChannelConv3x3.{{op}}: needs one channel, a 3x3 kernel of stride 1 and padding 1 and 16 or 32 filters on 512-bit registers, got {{g}} with {{oc}} filters.");
        int h = g.H, w = g.W, ph = h / 2, pw = w / 2, hp = h + 2, wp = w + 2, ys = oc * ph * pw;
        if (x.Length < n * h * w || y.Length < n * ys || (argmax is not null && argmax.Length < n * ys) || wt.Length < 9 * oc || (b is not null && b.Length < oc))
            throw new ArgumentException($"SingleChannelConv3x3.{{op}}: buffers too small for {{n}} images of {{h}}x{{w}} and {{oc}} filters.");
        var geometry = g;
        Parallelism.ForBalancedMacs(n, (_, start, end) =>
        {{
            float[] pad = ArrayPool<float>.Shared.Rent(hp * wp);
            float[] scr = ArrayPool<float>.Shared.Rent(ph * pw * oc);
            int[]? args = argmax is null ? null : ArrayPool<int>.Shared.Rent(ph * pw * oc);
            try
            {{
                pad.AsSpan(0, hp * wp).Clear();
                for (int i = start; i < end; i++)
                {{
                    for (int r = 0; r < h; r++) x.AsSpan(i * h * w + r * w, w).CopyTo(pad.AsSpan((r + 1) * wp + 1, w));
                    Image(pad, wt, b, scr, args, oc, ph, pw, wp, w, scale, shift);
                    ChannelConv3x3.Transpose(ref scr[0], ph * pw, oc, oc, ref y[i * ys], ph * pw);
                    if (args is not null) // the bits moved as they are
                        ChannelConv3x3.Transpose(ref Unsafe.As<int, float>(ref args[0]), ph * pw, oc, oc, ref Unsafe.As<int, float>(ref argmax![i * ys]), ph * pw);
                }}
            }}
            finally
            {{
                ArrayPool<float>.Shared.Return(pad);
                ArrayPool<float>.Shared.Return(scr);
                if (args is not null) ArrayPool<int>.Shared.Return(args);
            }}
        }}, (long)n * oc * geometry.L * 9);
    }}

    // pad: (H + 2, wp) zero-bordered -> scr: (PH * PW, OC) pixel-major pooled outputs of one image, and args their
    // positions (training) when given
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image(float[] pad, float[] wts, float[]? b, float[] scr, int[]? args, int oc, int ph, int pw, int wp, int ow, float[]? scale, float[]? shift)
    {{
        ref float wt = ref MemoryMarshal.GetArrayDataReference(wts);
        ref float pp = ref MemoryMarshal.GetArrayDataReference(pad);
        ref float ss = ref MemoryMarshal.GetArrayDataReference(scr);
        bool affine = scale is not null;
        Span<float> maps = stackalloc float[3 * 32];
        for (int o = 0; o < oc; o++)
        {{
            maps[o] = b is null ? 0 : b[o];
            maps[32 + o] = affine ? scale![o] : 1;
            maps[64 + o] = affine ? shift![o] : 0;
        }}
        ref float pm = ref MemoryMarshal.GetReference(maps);
        var bias = (Vector512.LoadUnsafe(ref pm), Vector512.LoadUnsafe(ref pm, V));
        if (args is not null)
        {{
            ref int sa = ref MemoryMarshal.GetArrayDataReference(args);
            if (oc == 32) Image32Train(ref pp, ref wt, ref ss, ref sa, ph, pw, wp, ow, bias);
            else Image16Train(ref pp, ref wt, ref ss, ref sa, ph, pw, wp, ow, bias);
            return;
        }}
        var sc = (Vector512.LoadUnsafe(ref pm, 32), Vector512.LoadUnsafe(ref pm, 32 + V));
        var sh = (Vector512.LoadUnsafe(ref pm, 64), Vector512.LoadUnsafe(ref pm, 64 + V));
        if (oc == 32) Image32(ref pp, ref wt, ref ss, ph, pw, wp, bias, sc, sh, affine);
        else Image16(ref pp, ref wt, ref ss, ph, pw, wp, bias, sc, sh, affine);
    }}

    // a window's maximum (one register of filters k) -> max(m, 0), then * scale + shift when affine, stored
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector512<float> m, int k, ref float dst, (Vector512<float>, Vector512<float>) sc, (Vector512<float>, Vector512<float>) sh, bool affine)
    {{
        var r = Vector512.Max(m, Vector512<float>.Zero);
        if (affine) r = r * (k == 0 ? sc.Item1 : sc.Item2) + (k == 0 ? sh.Item1 : sh.Item2);
        r.StoreUnsafe(ref dst);
    }}

    // a window's four outputs (p00, p01, p10, p11; the first at index i0 of an ow-wide plane) -> the maximum and its
    // index, stored: ChannelConv3x3's Take (PoolKernels' rule: a greater value, or a NaN while the best is a number)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pool(Vector512<float> p00, Vector512<float> p01, Vector512<float> p10, Vector512<float> p11, int i0, int ow, ref float dst, ref int arg)
    {{
        var best = p00;
        var at = Vector512.Create(i0);
        ChannelConv3x3.Take(p01, Vector512.Create(i0 + 1), ref best, ref at);
        ChannelConv3x3.Take(p10, Vector512.Create(i0 + ow), ref best, ref at);
        ChannelConv3x3.Take(p11, Vector512.Create(i0 + ow + 1), ref best, ref at);
        best.StoreUnsafe(ref dst);
        at.StoreUnsafe(ref arg);
    }}
}}
"""
windows = f"""// Generated by tools/gen_single_channel_conv3x3.py (the window bodies unrolled); edit the script, then run it.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

// SingleChannelConv3x3's per-image loops, one window (or two) a step, unrolled: the inference form (ReLU, affine map)
// and the training form (the maxima's positions), for 32 and 16 filters
internal static partial class SingleChannelConv3x3
{{
{image_methods(False)}
{image_methods(True).rstrip()}
}}
"""
import os
kernels = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src', 'Sharpgrad', 'Kernels')
open(os.path.join(kernels, 'SingleChannelConv3x3.cs'), 'w').write(src)
open(os.path.join(kernels, 'SingleChannelConv3x3.Windows.cs'), 'w').write(windows)
