using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Sharpgrad.Kernels;

/// <summary>Max and average pooling over (N*C) independent planes.</summary>
internal static class PoolKernels
{
    // x: (planes,H,W) -> y: (planes,H/2,W/2), argmax; the common 2x2, stride 2, no padding case without bounds tests
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxForward2x2<T>(ReadOnlySpan<T> x, Span<T> y, Span<int> argmax, int planes, in Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int hw = g.H * g.W, l = g.L, w = g.W;
        var path = Conv2dKernels.Path;
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * hw, hw);
            var yp = y.Slice(p * l, l);
            var ap = argmax.Slice(p * l, l);
            for (int i = 0; i < g.OH; i++)
            {
                int r0 = 2 * i * w, r1 = r0 + w, o = i * g.OW;
                // the register width of the convolution kernels (Conv2dKernels.Path, which tests can force)
                int j = typeof(T) != typeof(float) ? 0 : path switch
                {
                    Gemm.KernelPath.Vector512 => Row2x2Vector(MemoryMarshal.Cast<T, float>(xp), MemoryMarshal.Cast<T, float>(yp), ap, r0, r1, o, g.OW),
                    Gemm.KernelPath.Vector256 => Row2x2Vector256(MemoryMarshal.Cast<T, float>(xp), MemoryMarshal.Cast<T, float>(yp), ap, r0, r1, o, g.OW),
                    _ => 0,
                };
                for (; j < g.OW; j++)
                {
                    int a = r0 + 2 * j, b = r1 + 2 * j;
                    T best = xp[a];
                    int arg = a;
                    Take(xp[a + 1], a + 1, ref best, ref arg);
                    Take(xp[b], b, ref best, ref arg);
                    Take(xp[b + 1], b + 1, ref best, ref arg);
                    yp[o + j] = best;
                    ap[o + j] = arg;
                }
            }
        }
    }

    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14);
    private static readonly Vector512<int> OddLanes = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 1, 3, 5, 7, 9, 11, 13, 15);

    // one output row, 8 outputs (16 input columns) per step, in the scalar kernel's order: (r0,c0), (r0,c1), (r1,c0),
    // (r1,c1), strictly greater wins; stops before a block holding a NaN (the scalar loop finishes the row).
    // The last block of a row may be partial (a 28- or 14-wide row): it reads past the row when the plane has room
    // (into a padded copy otherwise) and stores 8 lanes when the extra ones land on the next output row, which is
    // written afterwards (only the valid lanes otherwise). Returns the first output column it did not compute.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Row2x2Vector(ReadOnlySpan<float> xp, Span<float> yp, Span<int> ap, int r0, int r1, int o, int ow)
    {
        int j = 0;
        for (; j < ow; j += 8)
        {
            int rest = Math.Min(8, ow - j);
            Vector512<float> a, b;
            if (r1 + 2 * j + 16 <= xp.Length)
            {
                a = Vector512.Create(xp.Slice(r0 + 2 * j, 16));
                b = Vector512.Create(xp.Slice(r1 + 2 * j, 16));
            }
            else
            {
                a = LoadPadded(xp.Slice(r0 + 2 * j, 2 * rest));
                b = LoadPadded(xp.Slice(r1 + 2 * j, 2 * rest));
            }
            if (!Vector512.EqualsAll(a, a) || !Vector512.EqualsAll(b, b)) break;
            var a0 = Vector512.Shuffle(a, EvenLanes);
            var a1 = Vector512.Shuffle(a, OddLanes);
            var b0 = Vector512.Shuffle(b, EvenLanes);
            var b1 = Vector512.Shuffle(b, OddLanes);
            var col = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14) + Vector512.Create(2 * j);
            var best = a0;
            var arg = col + Vector512.Create(r0);
            var m = Vector512.GreaterThan(a1, best);
            best = Vector512.ConditionalSelect(m, a1, best);
            arg = Vector512.ConditionalSelect(m.AsInt32(), col + Vector512.Create(r0 + 1), arg);
            m = Vector512.GreaterThan(b0, best);
            best = Vector512.ConditionalSelect(m, b0, best);
            arg = Vector512.ConditionalSelect(m.AsInt32(), col + Vector512.Create(r1), arg);
            m = Vector512.GreaterThan(b1, best);
            best = Vector512.ConditionalSelect(m, b1, best);
            arg = Vector512.ConditionalSelect(m.AsInt32(), col + Vector512.Create(r1 + 1), arg);
            if (rest == 8 || o + j + 8 <= yp.Length)
            {
                best.GetLower().CopyTo(yp.Slice(o + j, 8));
                arg.GetLower().CopyTo(ap.Slice(o + j, 8));
            }
            else
            {
                StorePartial(best.GetLower(), yp.Slice(o + j, rest));
                StorePartial(arg.GetLower(), ap.Slice(o + j, rest));
            }
        }
        return Math.Min(j, ow);
    }

    private static readonly Vector256<int> EvenLanes256 = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
    private static readonly Vector256<int> OddLanes256 = Vector256.Create(1, 3, 5, 7, 1, 3, 5, 7);

    // Row2x2Vector on 256-bit registers (AVX2 without AVX-512): 4 outputs (8 input columns) per step, the same order,
    // NaN rule, over-read and partial store
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Row2x2Vector256(ReadOnlySpan<float> xp, Span<float> yp, Span<int> ap, int r0, int r1, int o, int ow)
    {
        int j = 0;
        for (; j < ow; j += 4)
        {
            int rest = Math.Min(4, ow - j);
            Vector256<float> a, b;
            if (r1 + 2 * j + 8 <= xp.Length)
            {
                a = Vector256.Create(xp.Slice(r0 + 2 * j, 8));
                b = Vector256.Create(xp.Slice(r1 + 2 * j, 8));
            }
            else
            {
                a = LoadPadded256(xp.Slice(r0 + 2 * j, 2 * rest));
                b = LoadPadded256(xp.Slice(r1 + 2 * j, 2 * rest));
            }
            if (!Vector256.EqualsAll(a, a) || !Vector256.EqualsAll(b, b)) break;
            var a0 = Vector256.Shuffle(a, EvenLanes256);
            var a1 = Vector256.Shuffle(a, OddLanes256);
            var b0 = Vector256.Shuffle(b, EvenLanes256);
            var b1 = Vector256.Shuffle(b, OddLanes256);
            var col = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6) + Vector256.Create(2 * j);
            var best = a0;
            var arg = col + Vector256.Create(r0);
            var m = Vector256.GreaterThan(a1, best);
            best = Vector256.ConditionalSelect(m, a1, best);
            arg = Vector256.ConditionalSelect(m.AsInt32(), col + Vector256.Create(r0 + 1), arg);
            m = Vector256.GreaterThan(b0, best);
            best = Vector256.ConditionalSelect(m, b0, best);
            arg = Vector256.ConditionalSelect(m.AsInt32(), col + Vector256.Create(r1), arg);
            m = Vector256.GreaterThan(b1, best);
            best = Vector256.ConditionalSelect(m, b1, best);
            arg = Vector256.ConditionalSelect(m.AsInt32(), col + Vector256.Create(r1 + 1), arg);
            if (rest == 4 || o + j + 4 <= yp.Length)
            {
                best.GetLower().CopyTo(yp.Slice(o + j, 4));
                arg.GetLower().CopyTo(ap.Slice(o + j, 4));
            }
            else
            {
                StorePartial(best.GetLower(), yp.Slice(o + j, rest));
                StorePartial(arg.GetLower(), ap.Slice(o + j, rest));
            }
        }
        return Math.Min(j, ow);
    }

    // up to 8 values, the rest of the lanes -inf
    private static Vector256<float> LoadPadded256(ReadOnlySpan<float> x)
    {
        Span<float> p = stackalloc float[8];
        p.Fill(float.NegativeInfinity);
        x.CopyTo(p);
        return Vector256.Create<float>(p);
    }

    // the first dst.Length lanes of v
    private static void StorePartial<T>(Vector128<T> v, Span<T> dst) where T : unmanaged
    {
        Span<T> p = stackalloc T[Vector128<T>.Count];
        v.CopyTo(p);
        p[..dst.Length].CopyTo(dst);
    }

    // up to 16 values, the rest of the lanes -inf
    private static Vector512<float> LoadPadded(ReadOnlySpan<float> x)
    {
        Span<float> p = stackalloc float[16];
        p.Fill(float.NegativeInfinity);
        x.CopyTo(p);
        return Vector512.Create<float>(p);
    }

    // the first dst.Length lanes of v
    private static void StorePartial<T>(Vector256<T> v, Span<T> dst) where T : unmanaged
    {
        Span<T> p = stackalloc T[Vector256<T>.Count];
        v.CopyTo(p);
        p[..dst.Length].CopyTo(dst);
    }

    // strict > keeps the first maximum in scan order; the first NaN wins and stays (as the general kernel)
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Take<T>(T v, int index, ref T best, ref int arg) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!T.IsNaN(best) && (v > best || T.IsNaN(v)))
        {
            best = v;
            arg = index;
        }
    }

    // x: (planes,H,W) -> y: (planes,OH,OW), argmax: (planes,OH,OW) index into the H*W plane; padding reads -inf
    public static void MaxForward<T>(ReadOnlySpan<T> x, Span<T> y, Span<int> argmax, int planes, in Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int hw = g.H * g.W, l = g.L;
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * hw, hw);
            for (int i = 0; i < g.OH; i++)
            for (int j = 0; j < g.OW; j++)
            {
                T best = T.NegativeInfinity;
                int arg = -1;
                for (int kh = 0; kh < g.KH; kh++)
                {
                    int h = i * g.SH - g.PH + kh;
                    if ((uint)h >= (uint)g.H) continue;
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        int w = j * g.SW - g.PW + kw;
                        if ((uint)w >= (uint)g.W) continue;
                        T v = xp[h * g.W + w];
                        if (v > best || T.IsNaN(v) || arg < 0)
                        {
                            best = v;
                            arg = h * g.W + w;
                            if (T.IsNaN(v)) goto done;
                        }
                    }
                }
            done:
                y[p * l + i * g.OW + j] = best;
                argmax[p * l + i * g.OW + j] = arg;
            }
        }
    }

    // dy: (planes,OH,OW), argmax -> dx: (planes,H,W)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaxBackward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<int> argmax, Span<T> dx, int planes, in Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        dx.Clear();
        int hw = g.H * g.W, l = g.L;
        for (int p = 0; p < planes; p++)
            for (int k = 0; k < l; k++) dx[p * hw + argmax[p * l + k]] += dy[p * l + k];
    }

    // x: (planes,H,W) -> y: (planes,OH,OW), mean over the window counting padding (count_include_pad = True)
    public static void AvgForward<T>(ReadOnlySpan<T> x, Span<T> y, int planes, in Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int hw = g.H * g.W, l = g.L;
        T inv = T.One / T.CreateChecked(g.KH * g.KW);
        for (int p = 0; p < planes; p++)
        for (int i = 0; i < g.OH; i++)
        for (int j = 0; j < g.OW; j++)
        {
            T s = T.Zero;
            for (int kh = 0; kh < g.KH; kh++)
            {
                int h = i * g.SH - g.PH + kh;
                if ((uint)h >= (uint)g.H) continue;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int w = j * g.SW - g.PW + kw;
                    if ((uint)w < (uint)g.W) s += x[p * hw + h * g.W + w];
                }
            }
            y[p * l + i * g.OW + j] = s * inv;
        }
    }

    // dy: (planes,OH,OW) -> dx: (planes,H,W)
    public static void AvgBackward<T>(ReadOnlySpan<T> dy, Span<T> dx, int planes, in Conv2dGeometry g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        dx.Clear();
        int hw = g.H * g.W, l = g.L;
        T inv = T.One / T.CreateChecked(g.KH * g.KW);
        for (int p = 0; p < planes; p++)
        for (int i = 0; i < g.OH; i++)
        for (int j = 0; j < g.OW; j++)
        {
            T d = dy[p * l + i * g.OW + j] * inv;
            for (int kh = 0; kh < g.KH; kh++)
            {
                int h = i * g.SH - g.PH + kh;
                if ((uint)h >= (uint)g.H) continue;
                for (int kw = 0; kw < g.KW; kw++)
                {
                    int w = j * g.SW - g.PW + kw;
                    if ((uint)w < (uint)g.W) dx[p * hw + h * g.W + w] += d;
                }
            }
        }
    }
}
