using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Sharpgrad.NN;

/// <summary>
/// Base of the optimizers: a list of parameters, a learning rate that schedulers change, per-parameter state
/// tensors that checkpoints save, and each parameter's constraints (<see cref="IParameterConstraint"/>) enforced
/// around every step.
/// </summary>
public abstract class Optimizer
{
    private readonly Dictionary<Parameter, Dictionary<string, Tensor>> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>Optimizes <paramref name="parameters"/>, starting at learning rate <paramref name="lr"/>.</summary>
    protected Optimizer(IEnumerable<Parameter> parameters, double lr)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(lr >= 0)) throw new ArgumentOutOfRangeException(nameof(lr), $"{GetType().Name}: learning rate must be non-negative, got {lr}.");
        Parameters = parameters.ToList();
        if (Parameters.Count == 0) throw new ArgumentException($"{GetType().Name}: got an empty parameter list.");
        Lr = lr;
        InitialLr = lr;
    }

    /// <summary>The parameters, in order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Current learning rate (schedulers set it each step).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative or NaN value.</exception>
    public double Lr
    {
        get => _lr;
        set
        {
            if (!(value >= 0)) throw new ArgumentOutOfRangeException(nameof(value), $"{GetType().Name}: learning rate must be non-negative, got {value}.");
            _lr = value;
        }
    }

    private double _lr;

    /// <summary>The learning rate given at construction (schedulers scale from it).</summary>
    public double InitialLr { get; }

    /// <summary>Number of steps taken.</summary>
    public long StepCount { get; private set; }

    /// <summary>Momentum-like coefficient a one-cycle schedule may cycle (SGD momentum, Adam beta1); null if none.</summary>
    public virtual double? CyclicMomentum { get => null; set { } }

    /// <summary>
    /// Updates every parameter that has a gradient. Every gradient is checked (after its parameter's constraints)
    /// before any parameter changes, so a step that throws leaves the parameters, their state and
    /// <see cref="StepCount"/> as they were.
    /// </summary>
    /// <exception cref="InvalidOperationException">A gradient whose shape or dtype differs from its parameter's.</exception>
    public void Step()
    {
        var updates = new List<(Parameter P, Tensor Grad)>(Parameters.Count);
        foreach (var p in Parameters)
        {
            if (p.Grad is null) continue;
            var g = p.Constraints.Count > 0 ? p.ConstrainGradient(p.Grad) : p.Grad;
            if (!g.Shape.AsSpan().SequenceEqual(p.Data.Shape))
                throw new InvalidOperationException($"{GetType().Name}: a parameter of shape [{string.Join(",", p.Data.Shape)}] has a gradient of shape [{string.Join(",", g.Shape)}]; a gradient must have its parameter's shape.");
            if (g.DType != p.Data.DType)
                throw new InvalidOperationException($"{GetType().Name}: a {p.Data.DType.Name()} parameter of shape [{string.Join(",", p.Data.Shape)}] has a {g.DType.Name()} gradient; a gradient must have its parameter's dtype.");
            updates.Add((p, g));
        }
        StepCount++;
        foreach (var (p, g) in updates)
        {
            p.Grad = g;
            var grad = g.Contiguous();
            if (p.Data.DType == DType.Float32)
            {
                _ = p.Data.AsSpan<float>(); // the write's version change, once
                Update<float>(p, grad, StateOf(p));
            }
            else
            {
                _ = p.Data.AsSpan<double>();
                Update<double>(p, grad, StateOf(p));
            }
            p.Project();
        }
    }

    /// <summary>
    /// The proximal step of an L1 penalty lambda |w| after <see cref="Step"/>: each weight is soft-thresholded,
    /// w = sign(w) max(|w| - t, 0), by the step size this optimizer applied to it times lambda (lr for SGD; lr over
    /// the RMS denominator, per element, for RMSprop and Adam). Unlike an L1 gradient term, this puts weights at
    /// exactly zero.
    /// </summary>
    public void ProximalL1(IEnumerable<Parameter> parameters, double lambda)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(lambda >= 0)) throw new ArgumentOutOfRangeException(nameof(lambda), $"ProximalL1: strength must be non-negative, got {lambda}.");
        foreach (var p in parameters)
        {
            if (p.Data.DType == DType.Float32) Shrink<float>(p.Data.AsSpan<float>(), StateOf(p), lambda);
            else Shrink<double>(p.Data.AsSpan<double>(), StateOf(p), lambda);
            p.Project();
        }
    }

    // w = sign(w) max(|w| - lr lambda / d, 0) with d the optimizer's per-element step denominator (1 when it has none)
    private void Shrink<T>(Span<T> w, Dictionary<string, Tensor> state, double lambda) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T basic = C<T>(Lr * lambda);
        var rented = ArrayPool<T>.Shared.Rent(2 * w.Length);
        try
        {
            Span<T> a = rented.AsSpan(0, w.Length), t = rented.AsSpan(w.Length, w.Length);
            if (StepDenominator(state, t)) TensorPrimitives.Divide(basic, t, t);
            else t.Fill(basic);
            TensorPrimitives.Abs(w, a);
            TensorPrimitives.Subtract(a, t, a);
            TensorPrimitives.Max(a, T.Zero, a);
            TensorPrimitives.CopySign(a, w, w);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Writes the per-element denominator d of the last step (the step was lr * direction / d) into
    /// <paramref name="denominator"/>, for <see cref="ProximalL1"/>; false when the step has none (plain SGD).
    /// </summary>
    private protected virtual bool StepDenominator<T>(Dictionary<string, Tensor> state, Span<T> denominator) where T : unmanaged, IFloatingPointIeee754<T> => false;

    /// <summary>Clears the gradients of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters) p.Grad = null;
    }

    /// <summary>
    /// Applies one update to one parameter (<paramref name="p"/>.Data) from its contiguous gradient of the same dtype:
    /// the per-parameter work once (state created, step counted), then the element-wise update through
    /// <see cref="ForRanges"/>.
    /// </summary>
    private protected abstract void Update<T>(Parameter p, Tensor grad, Dictionary<string, Tensor> state)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>From this many elements a parameter's element-wise update splits over the kernel threads.</summary>
    // measured on the 2-core AMD EPYC without AVX-512 (alternating windows in one process, least time, median in
    // brackets): mlp's training step at batch 128 (SGD with momentum; its 256 x 784 weight in two parts) 1.12x (1.08x)
    // and 1.09x (1.15x) in two runs. From 16k elements (LeNet-5's 48k Linear weight, the exam CNN's) the steps moved
    // within the noise (0.90x and 1.01x least time), so 64k
    internal const int ParallelElements = 65536;

    /// <summary>Whether every update runs on the calling thread: the benchmarks' switch, off otherwise.</summary>
    internal static bool ParallelOff;

    /// <summary>
    /// Runs <paramref name="body"/>(start, count) over [0, <paramref name="n"/>): in parts on the kernel threads
    /// (<see cref="Parallelism.ForEachPart"/>) from <see cref="ParallelElements"/> elements, else once here. Each
    /// element's update reads and writes only that element, so the result is the same for any split.
    /// </summary>
    private protected static void ForRanges(int n, Action<int, int> body)
    {
        int parts = ParallelOff ? 1 : Math.Min(Parallelism.Threads, n / ParallelElements);
        if (parts <= 1) body(0, n);
        else Parallelism.ForEachPart(n, parts, (start, end) => body(start, end - start));
    }

    private Dictionary<string, Tensor> StateOf(Parameter p)
    {
        if (!_state.TryGetValue(p, out var s)) _state[p] = s = [];
        return s;
    }

    /// <summary>A state tensor of <paramref name="p"/>'s shape, created as zeros on first use.</summary>
    private protected static Tensor Buffer(Dictionary<string, Tensor> state, string name, Parameter p)
    {
        if (!state.TryGetValue(name, out var t)) state[name] = t = Tensor.Zeros(p.Shape, p.Data.DType);
        return t;
    }

    /// <summary>
    /// Elements [start, start + count) of a contiguous tensor to write, or an empty span for none. It does not change
    /// the tensor's <see cref="Tensor.Version"/>: <see cref="Step"/> changes each parameter's once, before its update,
    /// rather than each thread's part as it runs.
    /// </summary>
    private protected static Span<T> Slice<T>(Tensor? t, int start, int count) where T : unmanaged =>
        t is null ? default : MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(t.AsReadOnlySpan<T>().Slice(start, count)), count);

    /// <summary>Whether the state <paramref name="name"/> exists yet.</summary>
    private protected static bool Has(Dictionary<string, Tensor> state, string name) => state.ContainsKey(name);

    /// <summary>The state as named tensors ("{index}.{name}"), plus the step count and learning rate, for checkpoints.</summary>
    public IReadOnlyList<(string Name, Tensor Value)> StateDict()
    {
        var list = new List<(string, Tensor)>
        {
            ("step", Tensor.Scalar(StepCount, DType.Float64)),
            ("lr", Tensor.Scalar(Lr, DType.Float64)),
        };
        if (CyclicMomentum is double m) list.Add(("momentum", Tensor.Scalar(m, DType.Float64)));
        for (int i = 0; i < Parameters.Count; i++)
            if (_state.TryGetValue(Parameters[i], out var s))
                foreach (var (k, v) in s.OrderBy(kv => kv.Key, StringComparer.Ordinal)) list.Add(($"{i}.{k}", v));
        return list;
    }

    /// <summary>Restores a state saved by <see cref="StateDict"/>.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _state.Clear();
        foreach (var (name, value) in state)
        {
            switch (name)
            {
                case "step": StepCount = (long)value.Item(); continue;
                case "lr": Lr = value.Item(); continue;
                case "momentum": CyclicMomentum = value.Item(); continue;
            }
            int dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot < 0 || !int.TryParse(name[..dot], out int i) || i < 0 || i >= Parameters.Count)
                throw new ArgumentException($"{GetType().Name}.LoadStateDict: unexpected state '{name}' for {Parameters.Count} parameters.");
            var p = Parameters[i];
            if (value.Rank != 0 && !value.Shape.SequenceEqual(p.Shape))
                throw new ArgumentException($"{GetType().Name}.LoadStateDict: state '{name}' has shape [{string.Join(",", value.Shape)}], parameter {i} has [{string.Join(",", p.Shape)}].");
            StateOf(p)[name[(dot + 1)..]] = value.Rank == 0 ? value.To(DType.Float64).Contiguous(force: true) : value.To(p.Data.DType).Contiguous(force: true);
        }
    }

    /// <summary>A per-parameter step counter (float64 scalar, as PyTorch's "step" state), incremented and returned.</summary>
    private protected static double IncrementStep(Dictionary<string, Tensor> state)
    {
        if (!state.TryGetValue("step", out var t)) state["step"] = t = Tensor.Scalar(0, DType.Float64);
        return ++t.AsSpan<double>()[0];
    }

    /// <summary>Converts a double hyper-parameter to the parameter's element type.</summary>
    private protected static T C<T>(double v) where T : unmanaged, IFloatingPointIeee754<T> => T.CreateChecked(v);
}
