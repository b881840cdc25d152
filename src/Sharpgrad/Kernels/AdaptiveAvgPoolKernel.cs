using System.Numerics;

namespace Sharpgrad.Kernels;

// x: (planes,H,W) -> y: (planes,OH,OW), the mean of each adaptive window
internal readonly struct AdaptiveAvgPoolKernel(int planes, int h, int w, int oh, int ow) : ISpanKernel
{
    // window of output index i over n inputs into o outputs: [floor(i n / o), ceil((i + 1) n / o))
    internal static int Start(int i, int n, int o) => (int)((long)i * n / o);

    internal static int End(int i, int n, int o) => (int)(((long)(i + 1) * n + o - 1) / o);

    public void Apply<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int p = 0; p < planes; p++)
        {
            var xp = x.Slice(p * h * w, h * w);
            for (int i = 0; i < oh; i++)
            {
                int h0 = Start(i, h, oh), h1 = End(i, h, oh);
                for (int j = 0; j < ow; j++)
                {
                    int w0 = Start(j, w, ow), w1 = End(j, w, ow);
                    T s = T.Zero;
                    for (int r = h0; r < h1; r++)
                    for (int c = w0; c < w1; c++) s += xp[r * w + c];
                    y[(p * oh + i) * ow + j] = s / T.CreateChecked((h1 - h0) * (w1 - w0));
                }
            }
        }
    }
}

// dy: (planes,OH,OW) -> dx: (planes,H,W), each output's gradient spread evenly over its window (windows may overlap)
internal readonly struct AdaptiveAvgPoolGradKernel(int planes, int h, int w, int oh, int ow) : ISpanKernel
{
    public void Apply<T>(ReadOnlySpan<T> dy, Span<T> dx) where T : unmanaged, IFloatingPointIeee754<T>
    {
        dx.Clear();
        for (int p = 0; p < planes; p++)
        {
            var dxp = dx.Slice(p * h * w, h * w);
            for (int i = 0; i < oh; i++)
            {
                int h0 = AdaptiveAvgPoolKernel.Start(i, h, oh), h1 = AdaptiveAvgPoolKernel.End(i, h, oh);
                for (int j = 0; j < ow; j++)
                {
                    int w0 = AdaptiveAvgPoolKernel.Start(j, w, ow), w1 = AdaptiveAvgPoolKernel.End(j, w, ow);
                    T d = dy[(p * oh + i) * ow + j] / T.CreateChecked((h1 - h0) * (w1 - w0));
                    for (int r = h0; r < h1; r++)
                    for (int c = w0; c < w1; c++) dxp[r * w + c] += d;
                }
            }
        }
    }
}
