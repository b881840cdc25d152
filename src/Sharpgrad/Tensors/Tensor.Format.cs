using System.Globalization;
using System.Text;

namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>PyTorch-style text: <c>tensor([[1.0000, 2.0000], ...], dtype=float32, requires_grad=True)</c>.</summary>
    public override string ToString()
    {
        const int edge = 3, limit = 1000;
        var values = ToDoubleArray();
        bool summarize = NumElements > limit;
        bool allInts = values.All(v => double.IsFinite(v) && v == Math.Round(v) && Math.Abs(v) < 1e8);
        string Fmt(double v) => double.IsNaN(v) ? "nan" : double.IsInfinity(v) ? (v > 0 ? "inf" : "-inf")
            : allInts ? v.ToString("0", CultureInfo.InvariantCulture) + "."
            : Math.Abs(v) >= 1e5 || (v != 0 && Math.Abs(v) < 1e-4) ? v.ToString("0.0000e+00", CultureInfo.InvariantCulture)
            : v.ToString("0.0000", CultureInfo.InvariantCulture);

        var sb = new StringBuilder("tensor(");
        var strides = Shapes.ContiguousStrides(Dims);
        void Write(int dim, int offset, int indent)
        {
            if (dim == Rank)
            {
                sb.Append(Fmt(values[offset]));
                return;
            }
            sb.Append('[');
            int n = Dims[dim];
            for (int i = 0; i < n; i++)
            {
                if (summarize && n > 2 * edge && i == edge)
                {
                    sb.Append(dim == Rank - 1 ? "..., " : "...,\n" + new string(' ', indent + 1));
                    i = n - edge - 1;
                    continue;
                }
                Write(dim + 1, offset + i * strides[dim], indent + 1);
                if (i < n - 1)
                    sb.Append(dim == Rank - 1 ? ", " : "," + new string('\n', Rank - dim - 1) + new string(' ', indent + 1));
            }
            sb.Append(']');
        }
        Write(0, 0, 7);
        if (DType != DType.Float32) sb.Append(", dtype=").Append(DType.Name());
        if (GradFn is not null) sb.Append(", grad_fn=<").Append(GradFn.Name).Append('>');
        else if (RequiresGrad) sb.Append(", requires_grad=True");
        return sb.Append(')').ToString();
    }
}
