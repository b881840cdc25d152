using System.Numerics;

namespace Sharpgrad.Kernels;

/// <summary>Max and average pooling over (N*C) independent planes.</summary>
internal static class PoolKernels
{
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
