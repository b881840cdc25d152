using System.Numerics;

namespace Sharpgrad.NN;

/// <summary>
/// Stochastic gradient descent with PyTorch's update: g += wd w; buf = g on the first step, else
/// buf = momentum buf + (1 - dampening) g; g = nesterov ? g + momentum buf : buf; w -= lr g.
/// </summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Creates the optimizer.</summary>
    public Sgd(IEnumerable<Parameter> parameters, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false)
        : base(parameters, lr)
    {
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), $"Sgd: momentum must be non-negative, got {momentum}.");
        if (!(dampening >= 0 && dampening <= 1)) throw new ArgumentOutOfRangeException(nameof(dampening), $"Sgd: dampening must be in [0, 1], got {dampening}.");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), $"Sgd: weight decay must be non-negative, got {weightDecay}.");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("Sgd: Nesterov momentum requires a momentum and zero dampening.");
        Momentum = momentum;
        Dampening = dampening;
        WeightDecay = weightDecay;
        Nesterov = nesterov;
    }

    /// <summary>Momentum factor.</summary>
    public double Momentum { get; set; }

    /// <summary>Dampening for momentum.</summary>
    public double Dampening { get; }

    /// <summary>L2 penalty added to the gradient.</summary>
    public double WeightDecay { get; }

    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    public override double? CyclicMomentum { get => Momentum > 0 ? Momentum : null; set { if (value is double v && Momentum > 0) Momentum = v; } }

    private protected override void Update<T>(Parameter p, Tensor grad, Dictionary<string, Tensor> state)
    {
        T lr = C<T>(Lr), wd = C<T>(WeightDecay), mom = C<T>(Momentum), damp = C<T>(1 - Dampening);
        bool first = !Has(state, "momentum_buffer");
        Tensor? buf = Momentum != 0 ? Buffer(state, "momentum_buffer", p) : null;
        ForRanges(p.Data.NumElements, (start, count) =>
            Apply(Slice<T>(p.Data, start, count), Slice<T>(grad, start, count), Slice<T>(buf, start, count), lr, wd, mom, damp, first));
    }

    // elements of w, their gradients and momentum buffer (empty without momentum)
    private void Apply<T>(Span<T> w, ReadOnlySpan<T> grad, Span<T> buf, T lr, T wd, T mom, T damp, bool first)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            // the loop below on whole vectors: the same operations in the same order, so the same bits
            Vector<T> vlr = new(lr), vwd = new(wd), vmom = new(mom), vdamp = new(damp);
            for (; i <= w.Length - Vector<T>.Count; i += Vector<T>.Count)
            {
                var d = new Vector<T>(grad[i..]);
                var wi = new Vector<T>(w[i..]);
                if (WeightDecay != 0) d += vwd * wi;
                if (Momentum != 0)
                {
                    var b = first ? d : new Vector<T>(buf[i..]) * vmom + vdamp * d;
                    b.CopyTo(buf[i..]);
                    d = Nesterov ? d + vmom * b : b;
                }
                (wi - vlr * d).CopyTo(w[i..]);
            }
        }
        for (; i < w.Length; i++)
        {
            T d = grad[i];
            if (WeightDecay != 0) d += wd * w[i];
            if (Momentum != 0)
            {
                buf[i] = first ? d : buf[i] * mom + damp * d;
                d = Nesterov ? d + mom * buf[i] : buf[i];
            }
            w[i] -= lr * d;
        }
    }
}
