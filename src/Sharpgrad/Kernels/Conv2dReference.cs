using System.Numerics;

namespace Sharpgrad.Kernels;

/// <summary>Direct convolution loops, the oracle for <see cref="Conv2dKernels"/>.</summary>
internal static class Conv2dReference
{
    // x: (N,C,H,W), w: (OC,C/groups,KH,KW), b: (OC)? -> y: (N,OC,OH,OW); output channel o reads the input channels of its group
    public static double[] Forward(double[] x, double[] w, double[]? b, int n, int oc, Conv2dGeometry g, int groups = 1)
    {
        int cg = g.C / groups, ocg = oc / groups;
        var y = new double[n * oc * g.L];
        for (int i = 0; i < n; i++)
        for (int o = 0; o < oc; o++)
        for (int p = 0; p < g.OH; p++)
        for (int q = 0; q < g.OW; q++)
        {
            double s = b?[o] ?? 0;
            for (int cw = 0; cw < cg; cw++)
            for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int c = o / ocg * cg + cw;
                int h = p * g.SH - g.PH + kh, ww = q * g.SW - g.PW + kw;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                s += x[((i * g.C + c) * g.H + h) * g.W + ww] * w[((o * cg + cw) * g.KH + kh) * g.KW + kw];
            }
            y[((i * oc + o) * g.OH + p) * g.OW + q] = s;
        }
        return y;
    }

    // dy: (N,OC,OH,OW) -> dx: (N,C,H,W), dw: (OC,C/groups,KH,KW), db: (OC)
    public static (double[] Dx, double[] Dw, double[] Db) Backward(double[] dy, double[] x, double[] w, int n, int oc, Conv2dGeometry g, int groups = 1)
    {
        int cg = g.C / groups, ocg = oc / groups;
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[oc];
        for (int i = 0; i < n; i++)
        for (int o = 0; o < oc; o++)
        for (int p = 0; p < g.OH; p++)
        for (int q = 0; q < g.OW; q++)
        {
            double d = dy[((i * oc + o) * g.OH + p) * g.OW + q];
            db[o] += d;
            for (int cw = 0; cw < cg; cw++)
            for (int kh = 0; kh < g.KH; kh++)
            for (int kw = 0; kw < g.KW; kw++)
            {
                int c = o / ocg * cg + cw;
                int h = p * g.SH - g.PH + kh, ww = q * g.SW - g.PW + kw;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                int xi = ((i * g.C + c) * g.H + h) * g.W + ww, wi = ((o * cg + cw) * g.KH + kh) * g.KW + kw;
                dx[xi] += d * w[wi];
                dw[wi] += d * x[xi];
            }
        }
        return (dx, dw, db);
    }
}
