using System.Numerics;
using System.Numerics.Tensors;

namespace Sharpgrad.NN;

/// <summary>
/// RMSprop with PyTorch's update: g += wd w; v = alpha v + (1 - alpha) g^2; centered: m = alpha m + (1 - alpha) g and
/// avg = sqrt(v - m^2) + eps, else avg = sqrt(v) + eps; with momentum: buf = momentum buf + g / avg, w -= lr buf;
/// else w -= lr g / avg.
/// </summary>
public sealed class RmsProp : Optimizer
{
    /// <summary>Creates the optimizer (PyTorch's defaults: lr 0.01, alpha 0.99, eps 1e-8).</summary>
    public RmsProp(IEnumerable<Parameter> parameters, double lr = 0.01, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0,
        double momentum = 0, bool centered = false) : base(parameters, lr)
    {
        if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentOutOfRangeException(nameof(alpha), $"RmsProp: alpha must be in [0, 1], got {alpha}.");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"RmsProp: eps must be non-negative, got {eps}.");
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), $"RmsProp: momentum must be non-negative, got {momentum}.");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), $"RmsProp: weight decay must be non-negative, got {weightDecay}.");
        Alpha = alpha;
        Eps = eps;
        WeightDecay = weightDecay;
        Momentum = momentum;
        Centered = centered;
    }

    /// <summary>Smoothing constant of the squared-gradient average.</summary>
    public double Alpha { get; }

    /// <summary>Added to the denominator.</summary>
    public double Eps { get; }

    /// <summary>L2 penalty added to the gradient.</summary>
    public double WeightDecay { get; }

    /// <summary>Momentum factor.</summary>
    public double Momentum { get; set; }

    /// <summary>Normalize by the estimated variance rather than the raw second moment.</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    public override double? CyclicMomentum { get => Momentum > 0 ? Momentum : null; set { if (value is double v && Momentum > 0) Momentum = v; } }

    // sqrt(v) + eps, or sqrt(v - mean(g)^2) + eps when centered: the per-element denominator of RMSprop's step
    private protected override bool StepDenominator<T>(Dictionary<string, Tensor> state, Span<T> denominator)
    {
        if (!state.TryGetValue("square_avg", out var vt)) return false;
        if (Centered && state.TryGetValue("grad_avg", out var mt))
        {
            var m = mt.AsSpan<T>();
            TensorPrimitives.Multiply<T>(m, m, denominator);
            TensorPrimitives.Subtract<T>(vt.AsSpan<T>(), denominator, denominator);
            TensorPrimitives.Sqrt<T>(denominator, denominator);
        }
        else
        {
            TensorPrimitives.Sqrt<T>(vt.AsSpan<T>(), denominator);
        }
        TensorPrimitives.Add(denominator, C<T>(Eps), denominator);
        return true;
    }

    private protected override void Update<T>(Parameter p, Tensor grad, Dictionary<string, Tensor> state)
    {
        var v = Buffer(state, "square_avg", p);
        Tensor? m = Centered ? Buffer(state, "grad_avg", p) : null;
        Tensor? buf = Momentum > 0 ? Buffer(state, "momentum_buffer", p) : null;
        ForRanges(p.Data.NumElements, (start, count) =>
            Apply(Slice<T>(p.Data, start, count), Slice<T>(grad, start, count), Slice<T>(v, start, count), Slice<T>(m, start, count), Slice<T>(buf, start, count)));
    }

    // elements of w, their gradients, square average, gradient average (empty unless centered) and momentum buffer
    // (empty without momentum)
    private void Apply<T>(Span<T> w, ReadOnlySpan<T> grad, Span<T> v, Span<T> m, Span<T> buf)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T lr = C<T>(Lr), wd = C<T>(WeightDecay), a = C<T>(Alpha), a1 = C<T>(1 - Alpha), eps = C<T>(Eps), mom = C<T>(Momentum);
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            // the loop below on whole vectors: the same operations in the same order, so the same bits
            Vector<T> vlr = new(lr), vwd = new(wd), va = new(a), va1 = new(a1), veps = new(eps), vmom = new(mom);
            for (; i <= w.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var g = new Vector<T>(grad[i..]);
                var wi = new Vector<T>(w[i..]);
                if (WeightDecay != 0) g += vwd * wi;
                var vi = new Vector<T>(v[i..]) * va + va1 * g * g;
                vi.CopyTo(v[i..]);
                Vector<T> avg;
                if (Centered)
                {
                    var mi = new Vector<T>(m[i..]) * va + va1 * g;
                    mi.CopyTo(m[i..]);
                    avg = Vector.SquareRoot(vi - mi * mi);
                }
                else
                {
                    avg = Vector.SquareRoot(vi);
                }
                avg += veps;
                if (Momentum > 0)
                {
                    var b = new Vector<T>(buf[i..]) * vmom + g / avg;
                    b.CopyTo(buf[i..]);
                    (wi - vlr * b).CopyTo(w[i..]);
                }
                else
                {
                    (wi - vlr * (g / avg)).CopyTo(w[i..]);
                }
            }
        }
        for (; i < w.Length; i++)
        {
            T g = grad[i];
            if (WeightDecay != 0) g += wd * w[i];
            v[i] = v[i] * a + a1 * g * g;
            T avg;
            if (Centered)
            {
                m[i] = m[i] * a + a1 * g;
                avg = T.Sqrt(v[i] - m[i] * m[i]);
            }
            else
            {
                avg = T.Sqrt(v[i]);
            }
            avg += eps;
            if (Momentum > 0)
            {
                buf[i] = buf[i] * mom + g / avg;
                w[i] -= lr * buf[i];
            }
            else
            {
                w[i] -= lr * (g / avg);
            }
        }
    }
}
