namespace Sharpgrad.NN;

/// <summary>
/// Watches gradient magnitudes layer by layer, step by step: for each chosen layer, the mean |dL/dW| over its weight
/// and the mean |dL/da| over its output a (for a Linear or Conv2d layer, the pre-activation). It hooks the layers
/// (<see cref="Module.RegisterForwardHook"/>) and, on each output that records a gradient, the output's gradient
/// (<see cref="Tensor.RegisterHook"/>); call <see cref="Record"/> after each backward pass (before the gradients are
/// cleared) to append one <see cref="GradientRecord"/>. Dispose to remove the hooks. Used to show vanishing gradients
/// (exam question 1).
/// </summary>
public sealed class GradientMonitor : IDisposable
{
    private readonly List<Module> _modules = [];
    private readonly List<IDisposable> _handles = [];
    private readonly double[] _sum;
    private readonly long[] _count;
    private readonly List<GradientRecord> _steps = [];

    /// <summary>
    /// Hooks the layers of <paramref name="model"/> that <paramref name="select"/> accepts (by dotted name and module;
    /// default: every module with parameters of its own, e.g. each Linear, Conv2d and BatchNorm).
    /// </summary>
    /// <exception cref="ArgumentException">No layer was selected.</exception>
    public GradientMonitor(Module model, Func<string, Module, bool>? select = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        select ??= (_, m) => m.OwnParameters.Count > 0;
        var names = new List<string>();
        foreach (var (name, m) in model.NamedModules())
        {
            if (!select(name, m)) continue;
            int index = _modules.Count;
            _modules.Add(m);
            names.Add(name.Length == 0 ? m.TypeName : name);
            _handles.Add(m.RegisterForwardHook((_, _, output) => Watch(index, output)));
        }
        if (_modules.Count == 0) throw new ArgumentException($"GradientMonitor: no layer of this {model.TypeName} was selected.");
        Layers = names;
        _sum = new double[_modules.Count];
        _count = new long[_modules.Count];
    }

    /// <summary>The watched layers' dotted names (the model's own type name for the model itself), in model order.</summary>
    public IReadOnlyList<string> Layers { get; }

    /// <summary>One record per <see cref="Record"/> call.</summary>
    public IReadOnlyList<GradientRecord> Steps => _steps;

    private void Watch(int index, Tensor output)
    {
        if (!GradMode.IsEnabled || !output.RequiresGrad) return;
        output.RegisterHook(g =>
        {
            _sum[index] += SumAbs(g);
            _count[index] += g.NumElements;
        });
    }

    private static double SumAbs(Tensor t)
    {
        double s = 0;
        foreach (double v in t.ToDoubleArray()) s += Math.Abs(v);
        return s;
    }

    /// <summary>
    /// Appends the magnitudes of the last backward pass(es) since the previous call: per layer the mean |dL/dW| of
    /// the parameter named "weight" (else of all the layer's own parameters; NaN without parameters or gradient) and
    /// the mean |dL/da| over every element of every output of the layer that a gradient reached (NaN if none did).
    /// </summary>
    public GradientRecord Record()
    {
        int n = _modules.Count;
        var weight = new double[n];
        var output = new double[n];
        for (int i = 0; i < n; i++)
        {
            var own = _modules[i].OwnParameters;
            var chosen = own.Where(p => p.Name == "weight").Select(p => p.Parameter).ToList();
            if (chosen.Count == 0) chosen = own.Select(p => p.Parameter).ToList();
            double s = 0;
            long c = 0;
            foreach (var p in chosen)
            {
                if (p.Grad is null) continue;
                s += SumAbs(p.Grad);
                c += p.Grad.NumElements;
            }
            weight[i] = c == 0 ? double.NaN : s / c;
            output[i] = _count[i] == 0 ? double.NaN : _sum[i] / _count[i];
            _sum[i] = 0;
            _count[i] = 0;
        }
        var record = new GradientRecord(_steps.Count, weight, output);
        _steps.Add(record);
        return record;
    }

    /// <summary>Removes every hook this monitor registered on the layers.</summary>
    public void Dispose()
    {
        foreach (var h in _handles) h.Dispose();
        _handles.Clear();
    }
}

/// <summary>Gradient magnitudes of one step, indexed like <see cref="GradientMonitor.Layers"/>.</summary>
/// <param name="Step">0 for the first <see cref="GradientMonitor.Record"/>.</param>
/// <param name="WeightGrad">Mean |dL/dW| per layer.</param>
/// <param name="OutputGrad">Mean |dL/da| per layer, a the layer's output.</param>
public sealed record GradientRecord(int Step, IReadOnlyList<double> WeightGrad, IReadOnlyList<double> OutputGrad);
