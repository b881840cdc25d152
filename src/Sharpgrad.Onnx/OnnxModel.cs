using Google.Protobuf;
using Sharpgrad.NN;

namespace Sharpgrad.Onnx;

/// <summary>An input or output of an imported graph: its name, element type and declared shape.</summary>
/// <param name="Name">The graph's name for the value.</param>
/// <param name="ElementType">float32, float64, int64, ... ("unknown" when the file does not say).</param>
/// <param name="Shape">The declared dimensions, null for a symbolic or unknown one (e.g. the batch); null when the file declares no shape.</param>
public sealed record OnnxTensorInfo(string Name, string ElementType, int?[]? Shape)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {ElementType}" + (Shape is null ? "" : $"[{string.Join(",", Shape.Select(d => d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"))}]");
}

/// <summary>
/// A model read from an ONNX file (<see cref="Load(string, long)"/>) that runs its graph with Sharpgrad's ops, so that
/// it supports autograd and can be fine-tuned: each float initializer is a registered <see cref="Parameter"/> under its
/// initializer name (dots make child modules, so PyTorch's "0.weight" is "0.weight" in the state dict; see
/// <see cref="InitializerNames"/>), except the running mean and variance of BatchNormalization nodes, which are
/// buffers. The graph runs with inference semantics in both modes: BatchNormalization uses the running statistics and
/// Dropout is the identity (the ONNX file describes inference). Operators: see <see cref="SupportedOperators"/>.
/// </summary>
/// <remarks>
/// Loading checks the whole file before running anything: its size (at most the cap), the protobuf encoding, the
/// default-domain opset (1 to 21), every tensor's dims and data length (in 64 bits, before allocating), that every
/// node input exists, that each value is produced once, that the graph has no cycle, every node's operator and
/// attributes, and, where the graph inputs declare float shapes, one forward pass at batch 1 whose output shapes must
/// agree with the declared ones. Every failure is a <see cref="DataException"/> whose one-line message names the file.
/// </remarks>
public sealed class OnnxModel : Module
{
    /// <summary>
    /// The default cap on the size of an ONNX file (256 MiB): parsing holds the file and its decoded messages, up to
    /// several times its size for adversarial encodings, so the cap bounds the memory a file can make the loader take.
    /// </summary>
    public const long DefaultMaxFileBytes = 256L << 20;

    private readonly string _source;
    private readonly int _slotCount;
    private readonly (int Slot, OnnxValue Value)[] _constants;
    private readonly (int Slot, Tensor Value)[] _initializers;
    private readonly int[] _inputSlots;
    private readonly int[] _outputSlots;
    private readonly CompiledNode[] _nodes;
    private readonly Dictionary<string, string> _initializerNames = new(StringComparer.Ordinal);

    private sealed record CompiledNode(string Label, string Op, int[] Inputs, int[] Outputs, OnnxNodeRun Run);

    /// <summary>Every operator the importer runs (ONNX's default domain).</summary>
    public static IReadOnlyCollection<string> SupportedOperators => OnnxOperators.Supported;

    /// <summary>The graph's data inputs (initializers excluded), in order.</summary>
    public IReadOnlyList<OnnxTensorInfo> Inputs { get; }

    /// <summary>The graph's outputs, in order.</summary>
    public IReadOnlyList<OnnxTensorInfo> Outputs { get; }

    /// <summary>The default domain's opset the file imports.</summary>
    public long Opset { get; }

    /// <summary>The tool that wrote the file (producer_name and producer_version), or "".</summary>
    public string Producer { get; }

    /// <summary>The file's metadata_props (key -> value; a key given twice keeps its last value), e.g. the
    /// "normalization" and "classes" that <c>sharpgrad export</c> writes.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Number of graph nodes.</summary>
    public int NodeCount => _nodes.Length;

    /// <summary>For each parameter and buffer, its state-dict name -> the ONNX initializer it was read from.</summary>
    public IReadOnlyDictionary<string, string> InitializerNames => _initializerNames;

    /// <inheritdoc/>
    public override string TypeName => "OnnxModel";

    /// <inheritdoc/>
    public override string ExtraRepr => $"{Path.GetFileName(_source)}, opset {Opset}, {_nodes.Length} nodes";

    /// <summary>
    /// Reads an ONNX model file. See the remarks on <see cref="OnnxModel"/> for what is checked.
    /// </summary>
    /// <param name="path">The .onnx file.</param>
    /// <param name="maxFileBytes">Files larger than this are refused before they are read.</param>
    /// <exception cref="DataException">The file cannot be read, is not a valid ONNX model, or uses an operator,
    /// attribute or element type the importer does not support (one line naming the file, and the node, operator and
    /// opset where one is at fault).</exception>
    public static OnnxModel Load(string path, long maxFileBytes = DefaultMaxFileBytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new DataException($"{path}: is a folder; expected an ONNX model file (.onnx).");
        byte[] bytes;
        try
        {
            long length = new FileInfo(path).Length;
            if (length > maxFileBytes)
                throw new DataException($"{path}: {length} bytes, more than the {maxFileBytes} bytes an ONNX model may have (maxFileBytes).");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new DataException($"{path}: cannot read ({OneLine(e.Message)}).", e);
        }
        return Load(bytes, path);
    }

    /// <summary>Reads an ONNX model from its bytes; <paramref name="source"/> names it in messages.</summary>
    /// <exception cref="DataException">As <see cref="Load(string, long)"/>.</exception>
    public static OnnxModel Load(byte[] bytes, string source)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(source);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new DataException($"{source}: not a valid ONNX file ({OneLine(e.Message)}).", e);
        }
        try
        {
            return new OnnxModel(model, source);
        }
        catch (DataException e)
        {
            // names from the file (nodes, values, attributes) may hold control characters: keep the message one line
            string line = OnnxNodeContext.Printable(e.Message);
            if (line == e.Message) throw;
            throw new DataException(line, e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // a safety net: whatever a file does, only DataException leaves the loader
            throw new DataException(OnnxNodeContext.Printable($"{source}: not a valid ONNX model ({e.GetType().Name}: {OneLine(e.Message)})."), e);
        }
    }

    private static string OneLine(string s) => OnnxNodeContext.Printable(s.ReplaceLineEndings(" ").Trim());

    private OnnxModel(ModelProto model, string source)
    {
        _source = source;
        var graph = model.Graph ?? throw new DataException($"{source}: not an ONNX model (no graph).");
        Producer = (model.ProducerName + " " + model.ProducerVersion).Trim();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in model.MetadataProps) metadata[entry.Key] = entry.Value;
        Metadata = metadata;
        Opset = DefaultOpset(model, source);
        if (graph.SparseInitializer.Count > 0) throw new DataException($"{source}: sparse initializers are not supported.");

        var slots = new Dictionary<string, int>(StringComparer.Ordinal);
        int Define(string name, string what)
        {
            if (name.Length == 0) throw new DataException($"{source}: {what} has an empty name.");
            if (!slots.TryAdd(name, slots.Count)) throw new DataException($"{source}: value '{name}' is defined twice ({what}).");
            return slots[name];
        }

        // initializers: float ones become parameters (or buffers), integer ones constants
        var decoded = new List<(string Name, OnnxValue Value)>();
        foreach (var t in graph.Initializer)
        {
            OnnxValue v;
            try
            {
                v = OnnxTensors.Decode(t, $"{source}: initializer '{t.Name}'");
            }
            catch (FormatException e)
            {
                throw new DataException(e.Message, e);
            }
            Define(t.Name, "initializer");
            decoded.Add((t.Name, v));
        }
        var initializerNames = decoded.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = new List<(OnnxTensorInfo Info, int Slot)>();
        foreach (var vi in graph.Input)
        {
            if (initializerNames.Contains(vi.Name)) continue; // IR < 4 lists initializers among the inputs
            inputs.Add((Describe(vi, source), Define(vi.Name, "graph input")));
        }

        // nodes: each output defined once, each input defined somewhere
        var producers = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Node.Count; i++)
            foreach (var o in graph.Node[i].Output)
                if (o.Length > 0)
                {
                    Define(o, $"output of node {NodeLabel(graph.Node[i], i)}");
                    producers[o] = i;
                }
        for (int i = 0; i < graph.Node.Count; i++)
            foreach (var name in graph.Node[i].Input)
                if (name.Length > 0 && !slots.ContainsKey(name))
                    throw new DataException($"{source}: input '{name}' of node {NodeLabel(graph.Node[i], i)} ({graph.Node[i].OpType}) is neither a graph input, an initializer nor a node output.");
        var order = TopologicalOrder(graph, producers, source);

        var outputs = new List<OnnxTensorInfo>();
        foreach (var vi in graph.Output)
        {
            if (!slots.ContainsKey(vi.Name)) throw new DataException($"{source}: graph output '{vi.Name}' is never computed.");
            outputs.Add(Describe(vi, source));
        }

        var nodes = new List<CompiledNode>();
        foreach (int i in order)
        {
            var n = graph.Node[i];
            var ctx = new OnnxNodeContext(n, i, Opset, source);
            nodes.Add(new CompiledNode(ctx.Label, n.OpType, n.Input.Select(x => x.Length == 0 ? -1 : slots[x]).ToArray(),
                n.Output.Select(x => x.Length == 0 ? -1 : slots[x]).ToArray(), OnnxOperators.Compile(ctx)));
        }

        // BatchNormalization's mean and variance are statistics, not weights
        var statistics = graph.Node.Where(n => n.OpType == "BatchNormalization").SelectMany(n => n.Input.Skip(3).Take(2)).ToHashSet(StringComparer.Ordinal);
        var weights = graph.Node.Where(n => n.OpType != "BatchNormalization").SelectMany(n => n.Input)
            .Concat(graph.Node.Where(n => n.OpType == "BatchNormalization").SelectMany(n => n.Input.Take(3))).ToHashSet(StringComparer.Ordinal);
        var constants = new List<(int, OnnxValue)>();
        var parameters = new List<(int, Tensor)>();
        foreach (var (name, v) in decoded)
        {
            if (v.Tensor is null)
            {
                constants.Add((slots[name], v));
                continue;
            }
            bool buffer = statistics.Contains(name) && !weights.Contains(name);
            parameters.Add((slots[name], Place(name, v.Tensor, buffer)));
        }

        _slotCount = slots.Count;
        _constants = [.. constants];
        _initializers = [.. parameters];
        _inputSlots = inputs.Select(x => x.Slot).ToArray();
        _outputSlots = graph.Output.Select(o => slots[o.Name]).ToArray();
        _nodes = [.. nodes];
        Inputs = inputs.Select(x => x.Info).ToArray();
        Outputs = [.. outputs];
        Eval();
        CheckShapes();
    }

    private static string NodeLabel(NodeProto n, int i) => n.Name.Length > 0 ? $"'{n.Name}'" : $"#{i}";

    private static long DefaultOpset(ModelProto model, string source)
    {
        var imports = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").ToList();
        if (imports.Count == 0)
        {
            if (model.IrVersion < 3) return 1; // before opset_import existed
            throw new DataException($"{source}: no opset_import for ONNX's default domain.");
        }
        long v = imports.Max(o => o.Version);
        if (v < 1 || v > 21) throw new DataException($"{source}: opset {v} of the default domain is not supported (1 to 21 are).");
        return v;
    }

    private static int[] TopologicalOrder(GraphProto graph, Dictionary<string, int> producers, string source)
    {
        int n = graph.Node.Count;
        var pending = new int[n];
        var users = new List<int>[n];
        for (int i = 0; i < n; i++) users[i] = [];
        for (int i = 0; i < n; i++)
            foreach (var name in graph.Node[i].Input.Distinct())
                if (name.Length > 0 && producers.TryGetValue(name, out int p))
                {
                    pending[i]++;
                    users[p].Add(i);
                }
        var ready = new Queue<int>(Enumerable.Range(0, n).Where(i => pending[i] == 0));
        var order = new List<int>(n);
        while (ready.Count > 0)
        {
            int i = ready.Dequeue();
            order.Add(i);
            foreach (int u in users[i])
                if (--pending[u] == 0) ready.Enqueue(u);
        }
        if (order.Count < n)
        {
            int stuck = Enumerable.Range(0, n).First(i => pending[i] > 0);
            throw new DataException($"{source}: the graph has a cycle (node {NodeLabel(graph.Node[stuck], stuck)} ({graph.Node[stuck].OpType}) depends on its own output).");
        }
        return [.. order];
    }

    private static OnnxTensorInfo Describe(ValueInfoProto vi, string source)
    {
        if (vi.Type is { } type && type.ValueCase is not (TypeProto.ValueOneofCase.TensorType or TypeProto.ValueOneofCase.None))
            throw new DataException($"{source}: graph input or output '{vi.Name}' is a {type.ValueCase} value; only tensors are supported.");
        var t = vi.Type?.TensorType;
        if (t is null) return new OnnxTensorInfo(vi.Name, "unknown", null);
        int?[]? shape = t.Shape is null ? null
            : t.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue >= 0 && d.DimValue <= int.MaxValue ? (int?)d.DimValue : null).ToArray();
        return new OnnxTensorInfo(vi.Name, t.ElemType == 0 ? "unknown" : OnnxTypes.Name(t.ElemType), shape);
    }

    // registers an initializer as a parameter (or buffer), dots making child modules
    private Tensor Place(string name, Tensor value, bool buffer)
    {
        var segments = name.Split('.').Select(s => s.Length == 0 ? "_" : s).ToArray();
        Module? owner = this;
        for (int i = 0; i < segments.Length - 1 && owner is not null; i++)
        {
            var next = owner.Children.FirstOrDefault(c => c.Name == segments[i]).Module;
            if (next is null && !Taken(owner, segments[i])) next = Scope(owner).AddChild(segments[i]);
            owner = next as OnnxScope; // null: the prefix is taken by a parameter
        }
        string leaf = segments[^1];
        if (owner is null || Taken(owner, leaf))
        {
            // a name that clashes with another one's path: flat, with a suffix
            owner = this;
            string flat = string.Join("_", segments);
            leaf = flat;
            for (int k = 2; Taken(this, leaf); k++) leaf = $"{flat}_{k}";
        }
        var (path, tensor) = Scope(owner).AddTensor(leaf, value, buffer);
        _initializerNames[path] = name;
        return tensor;
    }

    private static bool Taken(Module m, string n) =>
        m.OwnParameters.Any(p => p.Name == n) || m.OwnBuffers.Any(b => b.Name == n) || m.Children.Any(c => c.Name == n);

    private IScope Scope(Module m) => m is OnnxScope s ? s : new RootScope(this);

    private interface IScope
    {
        OnnxScope AddChild(string name);

        (string Path, Tensor Value) AddTensor(string name, Tensor value, bool buffer);
    }

    private sealed class RootScope(OnnxModel root) : IScope
    {
        public OnnxScope AddChild(string name) => root.RegisterModule(name, new OnnxScope(name));

        public (string, Tensor) AddTensor(string name, Tensor value, bool buffer) =>
            (name, buffer ? root.RegisterBuffer(name, value) : root.RegisterParameter(name, value).Data);
    }

    /// <summary>A dotted initializer name's prefix: holds parameters, is never called.</summary>
    private sealed class OnnxScope(string path) : Module, IScope
    {
        public override Tensor Forward(Tensor input) => throw new InvalidOperationException($"OnnxModel: '{path}' only holds initializers; run the OnnxModel.");

        public override string TypeName => "OnnxInitializers";

        public OnnxScope AddChild(string name) => RegisterModule(name, new OnnxScope(path + "." + name));

        public (string, Tensor) AddTensor(string name, Tensor value, bool buffer) =>
            (path + "." + name, buffer ? RegisterBuffer(name, value) : RegisterParameter(name, value).Data);
    }

    /// <summary>The most elements one value may hold in the load-time forward pass (2^26).</summary>
    private const long LoadCheckElements = 1L << 26;

    // one forward pass at batch 1 on the declared input shapes: operators whose shapes do not fit, or outputs that
    // disagree with the declared shapes, make the file inconsistent
    private void CheckShapes()
    {
        if (Inputs.Count == 0 || Inputs.Any(i => i.Shape is null || i.ElementType is not ("float32" or "float64"))) return;
        long elements = 0;
        var values = new OnnxValue[Inputs.Count];
        for (int k = 0; k < Inputs.Count; k++)
        {
            var shape = Inputs[k].Shape!.Select(d => d ?? 1).ToArray();
            long n = 1;
            foreach (int d in shape) n = Math.Min(n * d, 1L << 40);
            elements += n;
            if (elements > 1 << 24) return; // too large to try at load time
            values[k] = OnnxValue.Of(Tensor.Zeros(shape, Inputs[k].ElementType == "float64" ? DType.Float64 : DType.Float32));
        }
        OnnxValue[] outputs;
        using (Tensor.NoGrad())
        using (OnnxOperators.LimitOutputs(LoadCheckElements))
        {
            try
            {
                outputs = RunValues(values, CheckBudget);
            }
            catch (ArgumentException e)
            {
                throw new DataException($"{_source}: inconsistent shapes: {OneLine(e.Message)}", e);
            }
        }
        for (int k = 0; k < Outputs.Count; k++)
        {
            var declared = Outputs[k].Shape;
            if (declared is null) continue;
            var actual = outputs[k].Shape;
            if (declared.Length != actual.Length || declared.Zip(actual).Any(p => p.First is { } d && d != p.Second && !BatchDependent(k)))
                throw new DataException($"{_source}: inconsistent shapes: output '{Outputs[k].Name}' is declared {Outputs[k]} but the graph computes [{string.Join(",", actual)}] for the declared inputs (symbolic dimensions as 1).");
        }
    }

    // whether an output's fixed dims could depend on a symbolic input dimension (then the batch-1 run proves nothing)
    private bool BatchDependent(int output) => Inputs.Any(i => i.Shape!.Any(d => d is null)) && Outputs[output].Shape!.All(d => d is not null);

    /// <summary>
    /// Runs the graph on its one data input and returns its first output (see <see cref="Run"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The graph has more or fewer than one data input.</exception>
    /// <exception cref="ArgumentException">The input does not fit the graph (one line naming the input or the node).</exception>
    public override Tensor Forward(Tensor input)
    {
        if (Inputs.Count != 1)
            throw new InvalidOperationException($"OnnxModel: the graph has {Inputs.Count} data inputs ({string.Join(", ", Inputs)}); call Run with one tensor each.");
        return Run(input)[0];
    }

    /// <summary>
    /// Runs the graph: one tensor per data input, in the order of <see cref="Inputs"/>; returns one tensor per output
    /// (integer outputs as float64). Autograd records the ops unless gradients are off.
    /// </summary>
    /// <exception cref="ArgumentException">The count, element type or declared dimensions of the inputs do not fit, or
    /// a node's op refuses its inputs (one line naming the node and the operator).</exception>
    /// <exception cref="NotSupportedException">A node meets, at run time, a case the importer does not support
    /// (Dropout in training mode with a ratio above 0).</exception>
    public IReadOnlyList<Tensor> Run(params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Length != Inputs.Count)
            throw new ArgumentException($"OnnxModel: expected {Inputs.Count} inputs ({string.Join(", ", Inputs)}), got {inputs.Length}.");
        for (int k = 0; k < inputs.Length; k++)
        {
            var info = Inputs[k];
            var t = inputs[k] ?? throw new ArgumentNullException(nameof(inputs));
            string type = t.DType == DType.Float32 ? "float32" : "float64";
            if (info.ElementType != "unknown" && info.ElementType != type)
                throw new ArgumentException($"OnnxModel: input {info} takes {info.ElementType}, got {type}.");
            if (info.Shape is { } s && (s.Length != t.Rank || s.Select((d, i) => d is null || d == t.Shape[i]).Any(ok => !ok)))
                throw new ArgumentException($"OnnxModel: input {info} does not take shape [{string.Join(",", t.Shape)}].");
        }
        return RunValues(inputs.Select(OnnxValue.Of).ToArray())
            .Select(v => v.Tensor ?? Tensor.FromArray(v.Ints!.Select(i => (double)i).ToArray(), v.Shape)).ToArray();
    }

    // the load-time pass may compute at most this many elements in all (1 GiB of float32): a few bytes of nodes that
    // double a tensor again and again (Concat of a value with itself) are refused instead of filling the memory
    private const long CheckBudget = OnnxTensors.MaxElements;

    /// <summary>
    /// Runs the graph on values (integer inputs allowed, no checks against the declared inputs); with
    /// <paramref name="budget"/>, refuses a graph whose node outputs hold more elements than that in all.
    /// </summary>
    internal OnnxValue[] RunValues(OnnxValue[] inputs, long budget = long.MaxValue)
    {
        long computed = 0;
        var slots = new OnnxValue?[_slotCount];
        foreach (var (slot, v) in _constants) slots[slot] = v;
        foreach (var (slot, t) in _initializers) slots[slot] = OnnxValue.Of(t);
        for (int k = 0; k < _inputSlots.Length; k++) slots[_inputSlots[k]] = inputs[k];
        foreach (var node in _nodes)
        {
            var args = node.Inputs.Select(s => s < 0 ? null : slots[s]).ToArray();
            OnnxValue[] results;
            try
            {
                results = node.Run(args);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or OverflowException or IndexOutOfRangeException)
            {
                throw new ArgumentException($"ONNX node '{node.Label}' ({node.Op}): {OneLine(e.Message)}", e);
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"ONNX node '{node.Label}' ({node.Op}, opset {Opset}): {OneLine(e.Message)}", e);
            }
            for (int k = 0; k < node.Outputs.Length; k++)
            {
                if (node.Outputs[k] < 0) continue;
                if (k >= results.Length) throw new ArgumentException($"ONNX node '{node.Label}' ({node.Op}): output {k} is not computed.");
                slots[node.Outputs[k]] = results[k];
                computed += results[k].Shape.Aggregate(1L, (n, d) => n * d); // a tensor holds at most int.MaxValue elements
                if (computed > budget)
                    throw new ArgumentException($"ONNX node '{node.Label}' ({node.Op}): the graph computes more than {budget} elements at batch 1 (output {k} is [{string.Join(",", results[k].Shape)}]); refused.");
            }
        }
        return _outputSlots.Select(s => slots[s] ?? throw new ArgumentException("OnnxModel: an output was not computed.")).ToArray();
    }
}
