namespace Sharpgrad.Kernels;

/// <summary>Scalar special functions .NET's <see cref="Math"/> lacks.</summary>
internal static class SpecialFunctions
{
    // W. J. Cody's rational Chebyshev approximations, as in his CALERF (netlib SPECFUN, "erf", 1985-1990), from
    // W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969), 631-637.
    // erf on |x| <= 0.46875: x P(x^2) / Q(x^2)
    private static readonly double[] A = [3.16112374387056560E00, 1.13864154151050156E02, 3.77485237685302021E02, 3.20937758913846947E03, 1.85777706184603153E-1];
    private static readonly double[] B = [2.36012909523441209E01, 2.44024637934444173E02, 1.28261652607737228E03, 2.84423683343917062E03];

    // erfc on 0.46875 < |x| <= 4: exp(-x^2) P(x) / Q(x)
    private static readonly double[] C =
    [
        5.64188496988670089E-1, 8.88314979438837594E0, 6.61191906371416295E01, 2.98635138197400131E02, 8.81952221241769090E02,
        1.71204761263407058E03, 2.05107837782607147E03, 1.23033935479799725E03, 2.15311535474403846E-8,
    ];
    private static readonly double[] D =
    [
        1.57449261107098347E01, 1.17693950891312499E02, 5.37181101862009858E02, 1.62138957456669019E03, 3.29079923573345963E03,
        4.36261909014324716E03, 3.43936767414372164E03, 1.23033935480374942E03,
    ];

    // erfc on |x| > 4: exp(-x^2) / x (1/sqrt(pi) - P(1/x^2) / (x^2 Q(1/x^2)))
    private static readonly double[] P = [3.05326634961232344E-1, 3.60344899949804439E-1, 1.25781726111229246E-1, 1.60837851487422766E-2, 6.58749161529837803E-4, 1.63153871373020978E-2];
    private static readonly double[] Q = [2.56852019228982242E00, 1.87295284992346047E00, 5.27905102951428412E-1, 6.05183413124413191E-2, 2.33520497626869185E-3];

    private const double InvSqrtPi = 5.6418958354775628695E-1;

    // erfc(x) underflows to 0 in double beyond this (Cody's XBIG)
    private const double XBig = 26.543;

    /// <summary>
    /// The error function erf(x) = 2/sqrt(pi) times the integral of exp(-t^2) from 0 to x, in float64, by W. J. Cody's
    /// rational Chebyshev approximations (netlib SPECFUN CALERF; W. J. Cody, Math. Comp. 23 (1969), 631-637): within
    /// 5e-16 relative of the exact value over the whole line (checked against 40-digit values); erf(+-inf) = +-1,
    /// erf(NaN) = NaN.
    /// </summary>
    public static double Erf(double x)
    {
        double y = Math.Abs(x);
        if (y <= 0.46875)
        {
            double ysq = y > 1.11e-16 ? y * y : 0;
            double num = A[4] * ysq, den = ysq;
            for (int i = 0; i < 3; i++)
            {
                num = (num + A[i]) * ysq;
                den = (den + B[i]) * ysq;
            }
            return x * (num + A[3]) / (den + B[3]);
        }
        double r; // erfc(y)
        if (y <= 4)
        {
            double num = C[8] * y, den = y;
            for (int i = 0; i < 7; i++)
            {
                num = (num + C[i]) * y;
                den = (den + D[i]) * y;
            }
            r = ExpMinusSquare(y) * ((num + C[7]) / (den + D[7]));
        }
        else if (y >= XBig)
        {
            r = 0;
        }
        else if (double.IsNaN(y))
        {
            return double.NaN;
        }
        else
        {
            double ysq = 1 / (y * y);
            double num = P[5] * ysq, den = ysq;
            for (int i = 0; i < 4; i++)
            {
                num = (num + P[i]) * ysq;
                den = (den + Q[i]) * ysq;
            }
            r = ysq * (num + P[4]) / (den + Q[4]);
            r = ExpMinusSquare(y) * ((InvSqrtPi - r) / y);
        }
        r = (0.5 - r) + 0.5;
        return x < 0 ? -r : r;
    }

    // exp(-y^2) without the rounding error of y^2: y = t + d with t a multiple of 1/16, y^2 = t^2 + (y - t)(y + t)
    private static double ExpMinusSquare(double y)
    {
        double t = Math.Truncate(y * 16) / 16;
        double del = (y - t) * (y + t);
        return Math.Exp(-t * t) * Math.Exp(-del);
    }
}
