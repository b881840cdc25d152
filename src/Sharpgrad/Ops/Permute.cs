
namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>A view with the dimensions reordered: output dimension i is input dimension <paramref name="perm"/>[i].</summary>
    public Tensor Permute(params int[] perm)
    {
        ArgumentNullException.ThrowIfNull(perm);
        if (perm.Length != Rank)
            throw new ArgumentException($"Permute: expected {Rank} axes for shape {Shapes.Format(Dims)}, got {Shapes.Format(perm)}.");
        var p = new int[Rank];
        var seen = new bool[Rank];
        for (int i = 0; i < Rank; i++)
        {
            p[i] = Shapes.NormalizeAxis("Permute", perm[i], Rank, Dims);
            if (seen[p[i]]) throw new ArgumentException($"Permute: axis {perm[i]} appears twice in {Shapes.Format(perm)}.");
            seen[p[i]] = true;
        }
        var y = PermuteRaw(p);
        if (NeedsGrad(this)) y.SetGradFn(new PermuteBackward(this, p));
        return y;
    }

    /// <summary>A view with dimensions <paramref name="axis0"/> and <paramref name="axis1"/> swapped.</summary>
    public Tensor Transpose(int axis0 = -2, int axis1 = -1)
    {
        int a = Shapes.NormalizeAxis("Transpose", axis0, Rank, Dims), b = Shapes.NormalizeAxis("Transpose", axis1, Rank, Dims);
        var p = new int[Rank];
        for (int i = 0; i < Rank; i++) p[i] = i;
        (p[a], p[b]) = (p[b], p[a]);
        return Permute(p);
    }
}

// y = permute(x, p): dx = permute(dy, inverse(p))
internal sealed class PermuteBackward(Tensor x, int[] perm) : Node([x])
{
    internal override Tensor?[] Backward(Tensor g)
    {
        var inv = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inv[perm[i]] = i;
        return [g.Permute(inv)];
    }
}
