namespace Sharpgrad.NN;

/// <summary>
/// Base of every layer: named parameters, buffers and child modules, all registered explicitly, and an explicit
/// training/evaluation state. Names follow PyTorch's state_dict (e.g. "0.weight", "3.running_mean").
/// </summary>
public abstract class Module
{
    private readonly List<(string Name, Parameter Value)> _parameters = [];
    private readonly List<(string Name, Tensor Value)> _buffers = [];
    private readonly List<(string Name, Module Value)> _children = [];

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Runs the layer.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Short type name as PyTorch prints it (e.g. "Conv2d").</summary>
    public virtual string TypeName => GetType().Name;

    /// <summary>Registers a trainable parameter under <paramref name="name"/>.</summary>
    protected Parameter RegisterParameter(string name, Tensor value)
    {
        var p = new Parameter(value);
        _parameters.Add((CheckName(name), p));
        return p;
    }

    /// <summary>Registers a non-trainable state tensor (saved in the state dict, not optimized).</summary>
    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        _buffers.Add((CheckName(name), value));
        return value;
    }

    /// <summary>Registers a child module.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        _children.Add((CheckName(name), module));
        return module;
    }

    private string CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.', StringComparison.Ordinal))
            throw new ArgumentException($"{TypeName}: invalid member name '{name}' (must be non-empty, without '.').");
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name) || _children.Any(c => c.Name == name))
            throw new ArgumentException($"{TypeName}: a member named '{name}' is already registered.");
        return name;
    }

    /// <summary>Direct children with their names.</summary>
    public IReadOnlyList<(string Name, Module Module)> Children => _children.Select(c => (c.Name, c.Value)).ToList();

    /// <summary>This module's own parameters (not its children's).</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> OwnParameters => _parameters.Select(p => (p.Name, p.Value)).ToList();

    /// <summary>This module's own buffers (not its children's).</summary>
    public IReadOnlyList<(string Name, Tensor Buffer)> OwnBuffers => _buffers.Select(b => (b.Name, b.Value)).ToList();

    /// <summary>Every parameter, depth first, with dotted names.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (n, p) in _parameters) yield return (prefix + n, p);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedParameters(prefix + n + ".")) yield return x;
    }

    /// <summary>Every parameter, depth first.</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>Every buffer, depth first, with dotted names.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (n, b) in _buffers) yield return (prefix + n, b);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedBuffers(prefix + n + ".")) yield return x;
    }

    /// <summary>Every module below and including this one, depth first, with dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        yield return (prefix.TrimEnd('.'), this);
        foreach (var (n, c) in _children)
            foreach (var x in c.NamedModules(prefix + n + ".")) yield return x;
    }

    /// <summary>Parameters and buffers by name, in PyTorch's state_dict order (per module: parameters, then buffers).</summary>
    public IReadOnlyList<(string Name, Tensor Value)> StateDict()
    {
        var list = new List<(string, Tensor)>();
        Collect("", list);
        return list;
    }

    private void Collect(string prefix, List<(string, Tensor)> list)
    {
        foreach (var (n, p) in _parameters) list.Add((prefix + n, p.Data));
        foreach (var (n, b) in _buffers) list.Add((prefix + n, b));
        foreach (var (n, c) in _children) c.Collect(prefix + n + ".", list);
    }

    /// <summary>
    /// Copies values into the parameters and buffers by name. Every name must be present with the same shape
    /// (unless <paramref name="strict"/> is false, when missing names are skipped); extra names are an error. As in
    /// PyTorch, a batch norm's missing num_batches_tracked counts as 0 (state_dicts from before the counter existed), and a
    /// 0-d tensor also loads from shape [1].
    /// </summary>
    /// <exception cref="ArgumentException">An unexpected or missing name, or a shape that does not match (one line naming the tensor).</exception>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        var own = new List<(string Name, Tensor Value, Module Owner)>();
        CollectOwned("", own);
        var known = own.Select(o => o.Name).ToHashSet();
        var extra = state.Keys.Where(k => !known.Contains(k)).ToList();
        if (extra.Count > 0)
        {
            // a whole other model's state_dict would make a line of thousands of characters: the first few names and a count
            string names = string.Join(", ", extra.Take(5)) + (extra.Count > 5 ? $" and {extra.Count - 5} more" : "");
            var missing = known.Where(k => !state.ContainsKey(k)).ToList();
            string absent = missing.Count == 0 ? "" : $"; it lacks {missing.Count} of the {known.Count} this {TypeName} has ({string.Join(", ", missing.Take(3))}{(missing.Count > 3 ? ", ..." : "")})";
            throw new ArgumentException($"LoadStateDict: {extra.Count} unexpected tensors for this {TypeName} ({names}){absent}: the weights may belong to another model.");
        }
        var copies = new List<(Tensor Target, Tensor? Source)>();
        foreach (var (name, t, owner) in own)
        {
            if (!state.TryGetValue(name, out var v))
            {
                if (owner is BatchNormBase && name.EndsWith("num_batches_tracked", StringComparison.Ordinal) && t.Rank == 0)
                    copies.Add((t, null)); // PyTorch's BatchNorm fills a missing counter with 0
                else if (strict) throw new ArgumentException($"LoadStateDict: missing tensor '{name}' (shape [{string.Join(",", t.Shape)}]).");
                continue;
            }
            if (t.Rank == 0 && v.Shape is [1]) v = v.Reshape([]); // PyTorch loads a 0-d tensor from shape [1]
            if (!t.Shape.SequenceEqual(v.Shape))
                throw new ArgumentException($"LoadStateDict: '{name}' has shape [{string.Join(",", v.Shape)}], the model expects [{string.Join(",", t.Shape)}].");
            copies.Add((t, v));
        }
        // every name and shape is checked before anything is written: a refused state_dict leaves the module as it was
        using (Tensor.NoGrad()) // parameters are leaves that require grad
            foreach (var (t, v) in copies) t.CopyFrom(v is null ? Tensor.Zeros(t.Shape, t.DType) : v.To(t.DType));
    }

    private void CollectOwned(string prefix, List<(string, Tensor, Module)> list)
    {
        foreach (var (n, p) in _parameters) list.Add((prefix + n, p.Data, this));
        foreach (var (n, b) in _buffers) list.Add((prefix + n, b, this));
        foreach (var (n, c) in _children) c.CollectOwned(prefix + n + ".", list);
    }

    /// <summary>Sets training mode on this module and its children.</summary>
    public Module Train(bool training = true)
    {
        Training = training;
        foreach (var (_, c) in _children) c.Train(training);
        return this;
    }

    /// <summary>
    /// Prepares the model to run fast, as an explicit step: each container may run a run of its layers as one fused
    /// op, with bitwise the same values, gradients and running statistics as layer by layer (see
    /// <see cref="Sequential.Plan"/>), with two exceptions, both in evaluation mode without gradients: a convolution
    /// folds the batch norm right after it into its weights, and Conv2d -> ReLU -> MaxPool2d(2) applies the batch norm
    /// after the pooling as a per-channel multiply-add in the same store (both <see cref="ChannelAffine"/>), which equal
    /// the layers up to float rounding. Until it is called a model runs layer by layer. Returns this module. The trainer and the commands fuse
    /// the models they build or load.
    /// </summary>
    public virtual Module Fuse()
    {
        foreach (var (_, c) in _children) c.Fuse();
        return this;
    }

    /// <summary>
    /// The fused step this layer offers to run together with the layers that follow it in a container (the
    /// container's <see cref="Fuse"/> asks each layer in turn), or null when it has none (the default). The layer
    /// decides which neighbours it fuses with; the step must compute bitwise what the layers compute one by one,
    /// except for the inference-only folding described at <see cref="Fuse"/>.
    /// </summary>
    /// <param name="following">The layers after this one in the container, in order.</param>
    public virtual FusedStep? FuseWith(IReadOnlyList<Module> following) => null;

    /// <summary>
    /// Whether this layer, in evaluation mode, is a per-channel affine map y[:, c] = x[:, c] * scale[c] + shift[c]
    /// (dimension 1 the channel) that a convolution before it may fold into its weights for inference
    /// (<see cref="ChannelAffine"/> gives the map). False by default; true for batch norm.
    /// </summary>
    public virtual bool FoldsIntoConvolution => false;

    /// <summary>
    /// The evaluation-mode per-channel affine map of a layer whose <see cref="FoldsIntoConvolution"/> is true:
    /// scale (C) and shift (C), in the layer's dtype. For batch norm (Ioffe and Szegedy 2015, eq. for inference):
    /// scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale. A fused model keeps the map (and
    /// the convolution folded with it) between evaluation calls until one of the layer's registered parameters or
    /// buffers is written, so the map must depend on those tensors alone.
    /// </summary>
    /// <exception cref="NotSupportedException">The layer is not such a map (the default).</exception>
    public virtual (Tensor Scale, Tensor Shift) ChannelAffine() =>
        throw new NotSupportedException($"{TypeName}: not a per-channel affine map (FoldsIntoConvolution is false).");

    /// <summary>Sets evaluation mode on this module and its children.</summary>
    public Module Eval() => Train(false);

    /// <summary>
    /// Whether, in evaluation mode, each sample's output (dimension 0) depends on that sample alone and a forward call
    /// changes no state of the module, so that <see cref="Predict"/> may run a large batch in parts, several at once
    /// on different threads. False by default: a layer of your own keeps its batch together unless it overrides this.
    /// True for the built-in layers (batch norm uses its running statistics in evaluation; dropout is the identity
    /// there) and for a container whose children all are.
    /// </summary>
    public virtual bool IsPerSample => false;

    /// <summary>
    /// The model's output for <paramref name="input"/> in evaluation mode, for inference (Keras's <c>predict</c>;
    /// PyTorch's <c>model.eval()</c> and <c>torch.inference_mode()</c> around a call): runs without recording
    /// gradients, in pooled memory (<see cref="TensorScope"/>: the step's intermediate tensors are recycled, so repeated
    /// calls allocate little beyond the result), <paramref name="batchSize"/> samples at a time along dimension 0, and
    /// returns a tensor of its own (no autograd history, not pooled). Every module is put in evaluation mode for the
    /// call and given back its own mode afterwards (when several threads call Predict on the same model at once, after
    /// the last of them; the model must not be trained or written meanwhile). A fused model (<see cref="Fuse"/>) runs
    /// its fused and folded steps.
    /// x: (N, ...) -> (N, ...) as <see cref="Forward"/>. A one-dimensional input runs in one call, unsplit (it may be
    /// one sample without its batch dimension, which the layers then name in their errors as given).
    /// <para>
    /// Depth first: where every module is <see cref="IsPerSample"/>, no module has a forward hook, several threads are
    /// allowed (<see cref="Parallelism.Threads"/>) and one batch's activations would not fit in the cores' caches
    /// (more than <see cref="DepthFirstMinBytes"/>), the batch runs through the whole model in small parts, each thread
    /// taking the next part, so that each part's activations stay in its core's cache (ONNX Runtime and PyTorch run
    /// each layer on the whole batch, which writes every activation out to memory and reads it back). The parts are
    /// sized from the pooled bytes of one sample's forward, measured once per sample shape. The outputs equal the
    /// layer-by-layer forward's up to float rounding: a kernel may sum in another order for a part's few samples than
    /// for the whole batch (the built-in models gave bitwise the same outputs, except resnet20: 3e-8 apart). A layer
    /// marked <see cref="IsPerSample"/> that is not is caught only where its output's first dimension is not its
    /// input's (the error names it); one that mixes samples but keeps the shape gives other numbers than layer by
    /// layer, silently.
    /// </para>
    /// </summary>
    /// <param name="input">A batch, sample index first.</param>
    /// <param name="batchSize">The most samples run at once (bounds the memory of intermediate tensors).</param>
    /// <exception cref="ArgumentException">A zero-dimensional input or a batch size below 1; the layers' own errors for a wrong shape.</exception>
    public Tensor Predict(Tensor input, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank == 0) throw new ArgumentException($"Predict: expected a batch (N, ...) with the sample index first, got a scalar.");
        if (batchSize < 1) throw new ArgumentException($"Predict: batchSize must be at least 1, got {batchSize}.");
        var modules = new List<Module>();
        CollectModules(modules);
        EnterPredict(modules);
        try
        {
            using var _ = Tensor.NoGrad();
            int n = input.Size(0);
            if (DepthFirstPart(input, batchSize, modules) is int part) return PredictInParts(input, part);
            if (n <= batchSize || input.Rank == 1)
            {
                using var scope = TensorScope.Begin();
                return TensorScope.Keep(Call(input));
            }
            var parts = new List<Tensor>();
            for (int start = 0; start < n; start += batchSize)
            {
                using var scope = TensorScope.Begin();
                parts.Add(TensorScope.Keep(Call(input.Slice(0, start, Math.Min(n, start + batchSize)))));
            }
            return Tensor.Cat(parts, 0);
        }
        finally
        {
            ExitPredict();
        }
    }

    // Predict calls running on this module now, and the modules the first of them switched to evaluation mode (the
    // last one to end switches them back: a call that starts while another runs must not see the modes restored
    // under it)
    private readonly object _predictGate = new();
    private int _predicting;
    private List<Module>? _predictRestores;

    private void EnterPredict(List<Module> modules)
    {
        lock (_predictGate)
        {
            if (_predicting++ > 0) return;
            _predictRestores = modules.Where(m => m.Training).ToList();
            foreach (var m in _predictRestores) m.Training = false;
        }
    }

    private void ExitPredict()
    {
        lock (_predictGate)
        {
            if (--_predicting > 0) return;
            foreach (var m in _predictRestores!) m.Training = true;
            _predictRestores = null;
        }
    }

    // the error for a model marked IsPerSample whose output for `x` does not have x's samples along dimension 0: it
    // names the first layer (in call order) whose output has another first dimension than its input, found by
    // running the part again under a trace
    private InvalidOperationException NotPerSample(Tensor x, Tensor y)
    {
        var finder = new BatchChangeFinder();
        try
        {
            using var scope = TensorScope.Begin();
            using (Trace(finder)) Call(x);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            // the layer's own error on the second run: the message below still names the model
        }
        string who = TypeName;
        if (finder.Found is { } found)
        {
            string name = NamedModules().FirstOrDefault(m => ReferenceEquals(m.Module, found)).Name ?? "";
            who = name.Length > 0 ? $"layer '{name}' ({found.TypeName})" : found.TypeName;
        }
        return new InvalidOperationException(
            $"Predict: {who} is marked IsPerSample but turned {x.Size(0)} samples into an output of shape {(finder.Found is null ? Dims(y) : finder.Output)}; expected {x.Size(0)} along dimension 0 (override IsPerSample to return false for a layer that mixes samples).");
    }

    private sealed class BatchChangeFinder : IForwardTracer
    {
        public Module? Found;
        public string? Output;

        public void Enter(Module module, Tensor input) { }

        public void Exit(Module module, Tensor input, Tensor output)
        {
            // Exit runs innermost first: the first mismatch seen is the deepest layer that made it
            if (Found is null && input.Rank > 0 && (output.Rank == 0 || output.Size(0) != input.Size(0)))
            {
                Found = module;
                Output = Dims(output);
            }
        }
    }

    private static string Dims(Tensor t) => "(" + string.Join(", ", t.Shape) + ")";

    // whether t's dimensions after the first are shape's (ranks already equal)
    private static bool SameSampleShape(Tensor t, int[] shape)
    {
        for (int d = 1; d < shape.Length; d++)
            if (t.Size(d) != shape[d]) return false;
        return true;
    }

    private void CollectModules(List<Module> list)
    {
        list.Add(this);
        foreach (var (_, c) in _children) c.CollectModules(list);
    }

    /// <summary>
    /// Below this many bytes of pooled activations for a whole batch (one sample's, measured, times the batch),
    /// <see cref="Predict"/> runs the model layer by layer on the batch; above it, depth first in parts. On the 2-core
    /// AVX-512 VM of issue #11 (batch 256, 1x28x28, pooled bytes a sample in brackets), depth first (parts on two
    /// threads, each part's kernels on one) against layer by layer (each kernel on two threads): mobilenet (364 KB)
    /// 9.8-11.0 against 14.3-15.1 ms, resnet8 (351 KB) 18.2 against 20.8 ms; cnn3 (38 KB) 10.2-11.4 against 10.8 ms
    /// and the exam CNN (13 KB) 1.37-1.44 against 1.31 ms, which stay layer by layer.
    /// </summary>
    public const long DepthFirstMinBytes = 32L << 20;

    /// <summary>
    /// A part's pooled activations in <see cref="Predict"/>'s depth-first order (every layer's output for the part's
    /// samples; a few of them are in use at a time). Measured on the VM of <see cref="DepthFirstMinBytes"/> in one
    /// process, alternating 50 ms windows against 4 MB, batch 256 (time at 4 MB / time at the other size, for
    /// mobilenet, resnet8 and resnet20): 512 KB 1.04x, 1.04x, 0.97x; 1 MB 1.03x, 1.10x, 0.96x; 2 MB 1.17x / 1.13x,
    /// 1.10x / 1.10x, 1.03x / 1.02x (two runs); 8 MB 0.89x, 0.93x, 0.95x. 2 MB runs mobilenet and resnet8 at 1x28x28
    /// 5 samples a part, resnet20 2.
    /// </summary>
    public const long DepthFirstPartBytes = 2L << 20;

    // one sample's pooled bytes for the sample shape last measured (replaced whole: Predict may run on several threads)
    private sealed record SampleBytes(int[] Shape, DType DType, long Bytes);

    private SampleBytes? _sampleBytes;

    /// <summary>
    /// The part size in which <see cref="Predict"/> runs <paramref name="input"/> depth first (at most
    /// <paramref name="batchSize"/> samples a part), or null where it runs layer by layer; in evaluation mode, without
    /// gradients. Measures one sample's forward the first time a sample shape comes.
    /// </summary>
    internal int? DepthFirstPart(Tensor input, int batchSize)
    {
        var modules = new List<Module>();
        CollectModules(modules);
        return DepthFirstPart(input, batchSize, modules);
    }

    private int? DepthFirstPart(Tensor input, int batchSize, List<Module> modules)
    {
        int threads = Parallelism.Threads;
        if (input.Rank < 2 || threads < 2 || input.Size(0) < 4 * threads || Tracing || !IsPerSample || modules.Any(m => m.HasForwardHooks)) return null;
        int n = input.Size(0);
        var sample = input.Shape.Skip(1).ToArray();
        var known = Volatile.Read(ref _sampleBytes);
        if (known is null || known.DType != input.DType || !known.Shape.AsSpan().SequenceEqual(sample))
        {
            // one sample's forward on this thread, twice: the first makes what the layers keep between calls (folded
            // batch norms, weights in a kernel's layout) before several threads share them, and what it computes for
            // that (in the scope too) is not a sample's; the second measures. A wrong input fails here on one sample:
            // the batch then runs layer by layer, where the layers name the input as given.
            var one = input.Slice(0, 0, 1);
            try
            {
                using (TensorScope.Begin()) Call(one);
                using var scope = TensorScope.Begin();
                Call(one);
                known = new SampleBytes(sample, input.DType, scope.RentedBytes);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
            {
                return null;
            }
            Volatile.Write(ref _sampleBytes, known);
        }
        if (known.Bytes * n <= DepthFirstMinBytes) return null;
        return (int)Math.Clamp(DepthFirstPartBytes / Math.Max(1, known.Bytes), 1, Math.Min(batchSize, n / (2 * threads)));
    }

    // input: (N, ...) -> (N, ...), `part` samples at a time through the whole model, the parts shared out among the threads
    private Tensor PredictInParts(Tensor input, int part)
    {
        int n = input.Size(0);
        Tensor first;
        using (var scope = TensorScope.Begin()) first = TensorScope.Keep(Call(input.Slice(0, 0, part)));
        if (first.Rank == 0 || first.Size(0) != part) throw NotPerSample(input.Slice(0, 0, part), first);
        var shape = first.Shape; // a copy
        shape[0] = n;
        return first.DType == DType.Float32 ? InParts(first.ToArray()) : InParts(first.ToDoubleArray());

        Tensor InParts<T>(T[] firstValues) where T : unmanaged
        {
            int perSample = firstValues.Length / part;
            var values = new T[(long)n * perSample <= Array.MaxLength ? n * perSample
                : throw new InvalidOperationException($"Predict: {TypeName}'s output for {n} samples, {n}x{perSample} values, is more than a tensor holds; pass fewer samples.")];
            firstValues.CopyTo(values, 0);
            int rest = n - part;
            Parallelism.ForEachPart(rest, (rest + part - 1) / part, (start, end) =>
            {
                using var noGrad = Tensor.NoGrad(); // gradient mode and pooled memory are per thread
                using var scope = TensorScope.Begin();
                var x = input.Slice(0, part + start, part + end);
                var y = Call(x).Contiguous();
                if (y.Rank != shape.Length || y.Size(0) != end - start) throw NotPerSample(x, y);
                if (!SameSampleShape(y, shape))
                    throw new InvalidOperationException($"Predict: {TypeName} gave {Dims(y)} for samples {part + start}..{part + end - 1} and {Dims(first)} for the first {part}: a per-sample model gives every sample an output of one shape.");
                y.AsReadOnlySpan<T>().CopyTo(values.AsSpan((part + start) * perSample, (end - start) * perSample));
            });
            var output = typeof(T) == typeof(float) ? Tensor.Wrap((float[])(object)values) : Tensor.Wrap((double[])(object)values);
            return output.Reshape(shape);
        }
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad = null;
    }

    /// <summary>Number of trainable parameter values.</summary>
    public int ParameterCount() => Parameters().Sum(p => p.NumElements);

    /// <summary>Number of buffer values that are statistics (running mean and variance; counters excluded).</summary>
    public int BufferCount() => NamedBuffers().Where(b => !b.Name.EndsWith("num_batches_tracked", StringComparison.Ordinal)).Sum(b => b.Buffer.NumElements);

    [ThreadStatic] private static IForwardTracer? t_tracer;

    private bool _registrationChecked;

    /// <summary>
    /// Throws when a field of this module, or of a module below it, holds a <see cref="Module"/> or
    /// <see cref="Parameter"/> that was never registered (it would be neither trained nor saved, silently). Runs on
    /// the first <see cref="Call"/> and when a summary or a trainer takes the model; each module is checked once.
    /// </summary>
    /// <exception cref="InvalidOperationException">The field's name, the module's path and what to register.</exception>
    public void CheckRegistration()
    {
        foreach (var (path, m) in NamedModules()) m.CheckOwnFields(path);
    }

    private void CheckOwnFields(string path)
    {
        if (_registrationChecked) return;
        const System.Reflection.BindingFlags Flags = System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public
            | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.DeclaredOnly;
        for (var type = GetType(); type is not null && type != typeof(Module); type = type.BaseType)
        {
            foreach (var field in type.GetFields(Flags))
            {
                object? value = field.GetValue(this);
                string name = field.Name.StartsWith('<') ? field.Name[1..field.Name.IndexOf('>', StringComparison.Ordinal)] : field.Name;
                string where = $"{TypeName}{(path.Length > 0 ? $" (layer {path})" : "")}";
                if (value is Module child && !_children.Any(c => ReferenceEquals(c.Value, child)))
                    throw new InvalidOperationException($"{where}: field '{name}' holds a {child.TypeName} that was never registered, so it would be neither trained nor saved; register it in the constructor with RegisterModule(\"{name}\", ...).");
                if (value is Parameter p && !_parameters.Any(q => ReferenceEquals(q.Value, p)))
                    throw new InvalidOperationException($"{where}: field '{name}' holds a Parameter of shape [{string.Join(",", p.Shape)}] that was never registered, so it would be neither trained nor saved; create it with RegisterParameter(\"{name}\", ...).");
            }
        }
        _registrationChecked = true;
    }

    /// <summary>
    /// Runs the layer (<see cref="Forward"/>), reporting the call to a trace when one is active on this thread
    /// (<see cref="ModelSummary"/> traces a forward pass to see every layer's input and output). Containers run their
    /// children through Call.
    /// </summary>
    public Tensor Call(Tensor input)
    {
        if (!_registrationChecked) CheckRegistration();
        var tracer = t_tracer;
        if (tracer is null)
        {
            var output = Forward(input);
            RunForwardHooks(input, output);
            return output;
        }
        tracer.Enter(this, input);
        var y = Forward(input);
        tracer.Exit(this, input, y);
        RunForwardHooks(input, y);
        return y;
    }

    private List<Action<Module, Tensor, Tensor>>? _forwardHooks;

    /// <summary>
    /// Registers <paramref name="hook"/> to be called after every <see cref="Call"/> of this module with the module,
    /// its input and its output (PyTorch's <c>Module.register_forward_hook</c>, for hooks that observe and return
    /// nothing). To see the gradient that reaches the output in the backward pass, register a
    /// <see cref="Tensor.RegisterHook"/> on the output from here (as <see cref="GradientMonitor"/> does). While a
    /// container's child has a hook the container runs its children one by one (no fused ops), so every hooked layer
    /// is called. Dispose the returned handle to remove the hook.
    /// </summary>
    public IDisposable RegisterForwardHook(Action<Module, Tensor, Tensor> hook)
    {
        ArgumentNullException.ThrowIfNull(hook);
        var list = _forwardHooks ??= [];
        list.Add(hook);
        return new HookHandle(list, hook);
    }

    /// <summary>Whether a forward hook is registered on this module.</summary>
    public bool HasForwardHooks => _forwardHooks is { Count: > 0 };

    private void RunForwardHooks(Tensor input, Tensor output)
    {
        if (_forwardHooks is null) return;
        foreach (var h in _forwardHooks.ToArray()) h(this, input, output);
    }

    private sealed class HookHandle(List<Action<Module, Tensor, Tensor>> list, Action<Module, Tensor, Tensor> hook) : IDisposable
    {
        public void Dispose() => list.Remove(hook);
    }

    /// <summary>Whether a trace is active on this thread (containers then run their children one by one, unfused).</summary>
    protected static bool Tracing => t_tracer is not null;

    /// <summary>Reports every <see cref="Call"/> on this thread to <paramref name="tracer"/> until disposed.</summary>
    internal static IDisposable Trace(IForwardTracer tracer)
    {
        var previous = t_tracer;
        t_tracer = tracer;
        return new Restore(previous);
    }

    private sealed class Restore(IForwardTracer? previous) : IDisposable
    {
        public void Dispose() => t_tracer = previous;
    }

    /// <summary>
    /// What this layer shows in a summary row for one call with these input and output shapes (batch dimension
    /// included): its label as the exam writes it, filters, kernel, the arithmetic of its parameter count and its
    /// multiply-accumulates. The default is the type name and no MACs; containers report their children's through the
    /// trace.
    /// </summary>
    public virtual LayerSummary Summarize(int[] inputShape, int[] outputShape) => new(TypeName);

    /// <summary>
    /// This layer's own parameters that weight pruning applies to, by their local names (Conv2d and Linear name
    /// their "weight"; the default is none). Containers do not list their children's: <see cref="NamedPrunableParameters"/>
    /// walks the tree.
    /// </summary>
    public virtual IEnumerable<(string Name, Parameter Parameter)> PrunableParameters() => [];

    /// <summary>
    /// The prunable parameters of this module and every descendant (<see cref="PrunableParameters"/>), by state_dict
    /// name: the weights that pruning and the L1 penalty apply to (biases and BatchNorm are left alone).
    /// </summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> NamedPrunableParameters()
    {
        var list = new List<(string, Parameter)>();
        foreach (var (name, m) in NamedModules())
        {
            string prefix = name.Length == 0 ? "" : name + ".";
            foreach (var (own, p) in m.PrunableParameters()) list.Add((prefix + own, p));
        }
        return list;
    }

    /// <summary>
    /// This layer's filters for structured pruning: weights whose first axis is the output channel, each with the bias
    /// that goes with it (Conv2d names its weight and bias; the default is none, and structured pruning then prunes
    /// the layer's <see cref="PrunableParameters"/> by magnitude).
    /// </summary>
    public virtual IEnumerable<(Parameter Weight, Parameter? Bias)> PrunableFilters() => [];

    /// <summary>One line describing the layer's configuration, as PyTorch's repr.</summary>
    public virtual string ExtraRepr => "";

    /// <summary>
    /// The layer's arguments for a model file (<see cref="ModelSpec"/>), with PyTorch's argument names; containers
    /// include their children's descriptions (<see cref="ModelSpec.Describe"/>). Null (the default) means the module
    /// cannot be written to a model file; override it together with <see cref="ModelSpec.Register"/> for a module of
    /// your own.
    /// </summary>
    public virtual System.Text.Json.Nodes.JsonObject? DescribeArguments() => null;

    /// <summary>
    /// Writes this layer's evaluation-mode computation on <paramref name="input"/> into an ONNX graph and returns the
    /// name of its output (Sharpgrad.Onnx's OnnxExport drives it). Containers export their children through
    /// <see cref="IOnnxGraphWriter.Export"/>; parameters and buffers go in as initializers through
    /// <see cref="IOnnxGraphWriter.AddParameter"/>. The default throws: a module of your own joins the export by
    /// overriding this method with nodes of ONNX operators.
    /// </summary>
    /// <exception cref="NotSupportedException">The layer has no ONNX form (one line naming its type and path).</exception>
    public virtual string ExportOnnx(IOnnxGraphWriter graph, string input)
    {
        ArgumentNullException.ThrowIfNull(graph);
        throw UnsupportedOnnx(graph, "has no ONNX export; override Module.ExportOnnx to write it with ONNX operators");
    }

    /// <summary>A one-line NotSupportedException naming this layer (type and path) for an export that cannot be written.</summary>
    protected NotSupportedException UnsupportedOnnx(IOnnxGraphWriter graph, string why)
    {
        ArgumentNullException.ThrowIfNull(graph);
        string path = graph.PathOf(this);
        return new NotSupportedException($"ONNX export: {TypeName} ({(path.Length == 0 ? "the model itself" : "layer " + path)}) {why}.");
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        if (_children.Count == 0) return $"{TypeName}({ExtraRepr})";
        var sb = new System.Text.StringBuilder(TypeName).Append("(\n");
        foreach (var (n, c) in _children)
            sb.Append("  (").Append(n).Append("): ").Append(c.ToString().Replace("\n", "\n  ", StringComparison.Ordinal)).Append('\n');
        return sb.Append(')').ToString();
    }
}

/// <summary>What one layer call contributes to a summary row (see <see cref="Module.Summarize"/>).</summary>
/// <param name="Label">Display name, e.g. "Conv", "FC", "Pool".</param>
/// <param name="Filters">Number of filters, or null.</param>
/// <param name="Kernel">Kernel size, or null.</param>
/// <param name="ParameterFormula">The arithmetic of the layer's parameter count, e.g. "(3*3*3 + 1) * 16", or null.</param>
/// <param name="Macs">Multiply-accumulates for one input.</param>
/// <param name="ChannelsText">How the output's C is printed when it needs explaining (e.g. "1024 = 16*8*8"), or null.</param>
public sealed record LayerSummary(string Label, int? Filters = null, int? Kernel = null, string? ParameterFormula = null, long Macs = 0, string? ChannelsText = null);

/// <summary>Sees every <see cref="Module.Call"/> of a traced forward pass.</summary>
internal interface IForwardTracer
{
    void Enter(Module module, Tensor input);

    void Exit(Module module, Tensor input, Tensor output);
}

/// <summary>
/// A run of a container's layers executed as one step (see <see cref="Module.FuseWith"/>): how many layers it covers,
/// from the layer that offered it, a description for <see cref="Sequential.Plan"/>, and the computation.
/// </summary>
/// <param name="Count">Layers covered, at least 2 (the offering layer and Count - 1 followers).</param>
/// <param name="Description">E.g. "Conv2d+ReLU fused".</param>
/// <param name="Forward">Computes the covered layers' output from the first one's input.</param>
public sealed record FusedStep(int Count, string Description, Func<Tensor, Tensor> Forward);
