using System.Numerics;
using System.Numerics.Tensors;

namespace Sharpgrad.NN;

/// <summary>
/// Adam with PyTorch's update: (Adam: g += wd w | AdamW: w *= 1 - lr wd); m = b1 m + (1 - b1) g;
/// v = b2 v + (1 - b2) g^2; w -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
/// </summary>
public class Adam : Optimizer
{
    /// <summary>Creates Adam (PyTorch's defaults: lr 1e-3, betas 0.9/0.999, eps 1e-8, no weight decay).</summary>
    public Adam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : this(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: false) { }

    private protected Adam(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
        : base(parameters, lr)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), $"{GetType().Name}: beta1 must be in [0, 1), got {beta1}.");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), $"{GetType().Name}: beta2 must be in [0, 1), got {beta2}.");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"{GetType().Name}: eps must be non-negative, got {eps}.");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), $"{GetType().Name}: weight decay must be non-negative, got {weightDecay}.");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        Decoupled = decoupled;
    }

    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; set; }

    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; }

    /// <summary>Added to the denominator.</summary>
    public double Eps { get; }

    /// <summary>Weight decay: an L2 gradient term (Adam) or decoupled shrinkage (AdamW).</summary>
    public double WeightDecay { get; }

    /// <summary>True for AdamW.</summary>
    public bool Decoupled { get; }

    /// <inheritdoc/>
    public override double? CyclicMomentum { get => Beta1; set { if (value is double v) Beta1 = v; } }

    // sqrt(v) / sqrt(1 - b2^t) + eps: the per-element denominator of Adam's step
    private protected override bool StepDenominator<T>(Dictionary<string, Tensor> state, Span<T> denominator)
    {
        if (!state.TryGetValue("exp_avg_sq", out var vt) || !state.TryGetValue("step", out var st)) return false;
        double bc2 = 1 - Math.Pow(Beta2, st.Item());
        TensorPrimitives.Sqrt<T>(vt.AsSpan<T>(), denominator);
        TensorPrimitives.Divide(denominator, C<T>(Math.Sqrt(bc2)), denominator);
        TensorPrimitives.Add(denominator, C<T>(Eps), denominator);
        return true;
    }

    private protected override void Update<T>(Parameter p, Tensor grad, Dictionary<string, Tensor> state)
    {
        var m = Buffer(state, "exp_avg", p);
        var v = Buffer(state, "exp_avg_sq", p);
        double step = IncrementStep(state);
        ForRanges(p.Data.NumElements, (start, count) =>
            Apply(Slice<T>(p.Data, start, count), Slice<T>(grad, start, count), Slice<T>(m, start, count), Slice<T>(v, start, count), step));
    }

    // elements of w, their gradients and moments at step `step` (counted from 1)
    private void Apply<T>(Span<T> w, ReadOnlySpan<T> grad, Span<T> m, Span<T> v, double step)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double bc1 = 1 - Math.Pow(Beta1, step), bc2 = 1 - Math.Pow(Beta2, step);
        T b1 = C<T>(Beta1), b1c = C<T>(1 - Beta1), b2 = C<T>(Beta2), b2c = C<T>(1 - Beta2), wd = C<T>(WeightDecay);
        T stepSize = C<T>(Lr / bc1), bc2Sqrt = C<T>(Math.Sqrt(bc2)), eps = C<T>(Eps), shrink = C<T>(1 - Lr * WeightDecay);
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            // the loop below on whole vectors: the same operations in the same order, so the same bits
            Vector<T> vb1 = new(b1), vb1c = new(b1c), vb2 = new(b2), vb2c = new(b2c), vwd = new(wd), vstep = new(stepSize),
                vbc2 = new(bc2Sqrt), veps = new(eps), vshrink = new(shrink);
            for (; i <= w.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var g = new Vector<T>(grad[i..]);
                var wi = new Vector<T>(w[i..]);
                if (WeightDecay != 0)
                {
                    if (Decoupled) wi *= vshrink;
                    else g += vwd * wi;
                }
                var mi = new Vector<T>(m[i..]) * vb1 + vb1c * g;
                var vi = new Vector<T>(v[i..]) * vb2 + vb2c * g * g;
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                var denom = Vector.SquareRoot(vi) / vbc2 + veps;
                (wi - vstep * (mi / denom)).CopyTo(w[i..]);
            }
        }
        for (; i < w.Length; i++)
        {
            T g = grad[i];
            if (WeightDecay != 0)
            {
                if (Decoupled) w[i] *= shrink;
                else g += wd * w[i];
            }
            m[i] = m[i] * b1 + b1c * g;
            v[i] = v[i] * b2 + b2c * g * g;
            T denom = T.Sqrt(v[i]) / bc2Sqrt + eps;
            w[i] -= stepSize * (m[i] / denom);
        }
    }
}

/// <summary>AdamW: Adam with decoupled weight decay, w *= 1 - lr wd before the Adam step (PyTorch's default wd 0.01).</summary>
public sealed class AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01)
    : Adam(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: true);
