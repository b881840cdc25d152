namespace Sharpgrad;

/// <summary>Shape arithmetic shared by the ops: sizes, strides, broadcasting, formatting.</summary>
internal static class Shapes
{
    public static string Format(ReadOnlySpan<int> shape)
    {
        var sb = new System.Text.StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(shape[i]);
        }
        return sb.Append(']').ToString();
    }

    public static int Numel(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        if (n > int.MaxValue) throw new ArgumentException($"Tensor: shape {Format(shape)} has {n} elements, more than {int.MaxValue}.");
        return (int)n;
    }

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= Math.Max(shape[i], 1);
        }
        return strides;
    }

    public static void Validate(string op, ReadOnlySpan<int> shape)
    {
        foreach (int d in shape)
            if (d < 0) throw new ArgumentException($"{op}: sizes must be non-negative, got shape {Format(shape)}.");
    }

    /// <summary>NumPy broadcasting of two shapes.</summary>
    public static int[] Broadcast(string op, int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes cannot be broadcast (dimension {i}: {da} vs {db}): lhs {Format(a)}, rhs {Format(b)}.");
            result[i] = da == 1 ? db : da;
        }
        return result;
    }

    /// <summary>Strides of a tensor (tShape, tStrides) viewed at the broadcast <paramref name="shape"/> (0 where broadcast).</summary>
    public static int[] BroadcastStrides(int[] tShape, int[] tStrides, int[] shape)
    {
        var s = new int[shape.Length];
        int lead = shape.Length - tShape.Length;
        for (int i = 0; i < tShape.Length; i++)
            s[i + lead] = tShape[i] == 1 && shape[i + lead] != 1 ? 0 : tStrides[i];
        return s;
    }

    public static int NormalizeAxis(string op, int axis, int rank, int[] shape)
    {
        int r = Math.Max(rank, 1);
        if (axis < -r || axis >= r)
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for a tensor of rank {rank} (shape {Format(shape)}); expected {-r}..{r - 1}.");
        return axis < 0 ? axis + r : axis;
    }

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);
}
