using Google.Protobuf;
using Sharpgrad.NN;

namespace Sharpgrad.Onnx;

/// <summary>
/// Writes a Sharpgrad model as an ONNX file (IR version 8, opset 17) with evaluation-mode semantics: batch norm with
/// its running statistics, dropout as the identity. The graph takes "input", float32 of shape (N, inputShape...)
/// with a dynamic batch dimension "N", and gives "output", (N, ...); parameters and buffers are initializers named
/// by their state_dict names ("0.weight", "3.running_mean", ...; num_batches_tracked is not needed and not written).
/// Each layer writes its own nodes (<see cref="Module.ExportOnnx"/>).
/// </summary>
public static class OnnxExport
{
    /// <summary>The graph's input name.</summary>
    public const string InputName = "input";

    /// <summary>The graph's output name.</summary>
    public const string OutputName = "output";

    /// <summary>The serialized ModelProto of <paramref name="model"/> for inputs of one example's shape (e.g. C, H, W).</summary>
    /// <param name="model">The model; its training mode is restored afterwards, its parameters are not changed.</param>
    /// <param name="inputShape">One example's shape without the batch dimension, e.g. [1, 28, 28].</param>
    /// <param name="metadata">Key-value pairs stored as the model's metadata_props (e.g. the input normalization), or null.</param>
    /// <exception cref="ArgumentException">A non-positive input size, or a model that does not take inputs of that shape.</exception>
    /// <exception cref="NotSupportedException">A layer without an ONNX form (one line naming its type and path).</exception>
    public static byte[] ToBytes(Module model, IReadOnlyList<int> inputShape, IReadOnlyDictionary<string, string>? metadata = null) =>
        Build(model, inputShape, metadata).ToByteArray();

    /// <summary>
    /// Writes <paramref name="model"/> to <paramref name="path"/> as <see cref="ToBytes"/> does, atomically: the
    /// model is built in memory first, then written to a temporary file beside <paramref name="path"/> and renamed,
    /// so an error leaves no file half-written.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="ToBytes"/>, or a path whose folder does not exist.</exception>
    /// <exception cref="NotSupportedException">As <see cref="ToBytes"/>.</exception>
    public static void Save(Module model, IReadOnlyList<int> inputShape, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = ToBytes(model, inputShape, metadata);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new ArgumentException($"{path}: folder {dir} does not exist.");
        AtomicFile.WriteBytes(path, bytes);
    }

    internal static ModelProto Build(Module model, IReadOnlyList<int> inputShape, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Count == 0 || inputShape.Any(d => d < 1))
            throw new ArgumentException($"ONNX export: input shape [{string.Join(",", inputShape)}] must have at least one dimension, all positive (one example, e.g. 1x28x28).");
        var modes = model.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        model.Eval();
        try
        {
            using var _ = Tensor.NoGrad();
            var example = Tensor.Zeros([1, .. inputShape]);
            try
            {
                model.Call(example);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"ONNX export: the {model.TypeName} does not take inputs of shape {string.Join("x", inputShape)}: {e.Message}", e);
            }
            var writer = new ProtoGraphWriter(model, example);
            var last = writer.Export(model, InputName);
            return writer.Finish(last, model.TypeName, inputShape, metadata);
        }
        finally
        {
            foreach (var (m, training) in modes) m.Train(training); // depth first: each module ends in its own mode
        }
    }

    /// <summary>The protobuf side of <see cref="IOnnxGraphWriter"/>: nodes, initializers and the shapes of layer outputs.</summary>
    private sealed class ProtoGraphWriter : IOnnxGraphWriter
    {
        private readonly GraphProto _graph = new();
        private readonly Dictionary<Module, string> _paths = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<string, Tensor> _examples = [];
        private readonly HashSet<string> _names = [InputName, OutputName];
        private readonly HashSet<string> _initializers = [];
        private readonly Stack<string> _scope = new();
        private int _counter;

        public ProtoGraphWriter(Module model, Tensor example)
        {
            foreach (var (path, module) in model.NamedModules()) _paths.TryAdd(module, path);
            _examples[InputName] = example;
        }

        public string PathOf(Module module)
        {
            ArgumentNullException.ThrowIfNull(module);
            return _paths.TryGetValue(module, out var p) ? p
                : throw new ArgumentException($"ONNX export: a {module.TypeName} that is not registered in the exported model was asked to export; register it with RegisterModule.");
        }

        public string AddNode(string opType, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes)
        {
            ArgumentException.ThrowIfNullOrEmpty(opType);
            ArgumentNullException.ThrowIfNull(inputs);
            ArgumentNullException.ThrowIfNull(attributes);
            var output = Fresh(opType);
            var node = new NodeProto { OpType = opType, Name = output };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            foreach (var a in attributes) node.Attribute.Add(ToProto(a));
            _graph.Node.Add(node);
            return output;
        }

        public string AddParameter(Module owner, string name, Tensor value)
        {
            ArgumentNullException.ThrowIfNull(owner);
            ArgumentException.ThrowIfNullOrEmpty(name);
            ArgumentNullException.ThrowIfNull(value);
            var path = PathOf(owner);
            if (!owner.OwnParameters.Any(p => p.Name == name && ReferenceEquals(p.Parameter.Data, value))
                && !owner.OwnBuffers.Any(b => b.Name == name && ReferenceEquals(b.Buffer, value)))
                throw new ArgumentException($"ONNX export: {owner.TypeName} ({(path.Length == 0 ? "the model itself" : "layer " + path)}) has no parameter or buffer '{name}' holding that tensor; initializers carry state_dict names.");
            var full = path.Length == 0 ? name : path + "." + name;
            if (!_initializers.Add(full)) return full;
            if (!_names.Add(full)) throw new ArgumentException($"ONNX export: initializer name '{full}' is already a value's name.");
            _graph.Initializer.Add(FloatTensor(full, value));
            return full;
        }

        public string AddConstant(Tensor value)
        {
            ArgumentNullException.ThrowIfNull(value);
            return Constant(FloatTensor("", value));
        }

        public string AddInt64Constant(params long[] values)
        {
            ArgumentNullException.ThrowIfNull(values);
            var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64 };
            t.Dims.Add(values.Length);
            t.Int64Data.AddRange(values);
            return Constant(t);
        }

        private string Constant(TensorProto value)
        {
            var output = Fresh("Constant");
            var node = new NodeProto { OpType = "Constant", Name = output };
            node.Output.Add(output);
            node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
            _graph.Node.Add(node);
            return output;
        }

        public string Export(Module module, string input)
        {
            ArgumentNullException.ThrowIfNull(module);
            ArgumentException.ThrowIfNullOrEmpty(input);
            var path = PathOf(module);
            _scope.Push(path);
            string output;
            try
            {
                output = module.ExportOnnx(this, input);
            }
            finally
            {
                _scope.Pop();
            }
            if (string.IsNullOrEmpty(output))
                throw new InvalidOperationException($"ONNX export: {module.TypeName} ({(path.Length == 0 ? "the model itself" : "layer " + path)}) returned no output name.");
            // the output's shape, from the layer run on the input's example (a batch of one), when the input's is known
            if (!_examples.ContainsKey(output) && _examples.TryGetValue(input, out var x)) _examples[output] = module.Call(x);
            return output;
        }

        public IReadOnlyList<int>? ShapeOf(string value)
        {
            ArgumentNullException.ThrowIfNull(value);
            return _examples.TryGetValue(value, out var t) ? t.Shape : null;
        }

        /// <summary>Names the last value "output" and adds the graph's input and output declarations.</summary>
        public ModelProto Finish(string last, string name, IReadOnlyList<int> inputShape, IReadOnlyDictionary<string, string>? metadata)
        {
            var producer = _graph.Node.LastOrDefault(n => n.Output.Contains(last));
            if (producer is null || _initializers.Contains(last))
            {
                var id = new NodeProto { OpType = "Identity", Name = OutputName };
                id.Input.Add(last);
                id.Output.Add(OutputName);
                _graph.Node.Add(id);
            }
            else
            {
                foreach (var node in _graph.Node)
                {
                    for (int i = 0; i < node.Input.Count; i++) if (node.Input[i] == last) node.Input[i] = OutputName;
                    for (int i = 0; i < node.Output.Count; i++) if (node.Output[i] == last) node.Output[i] = OutputName;
                }
            }
            _graph.Name = name;
            _graph.Input.Add(ValueInfo(InputName, inputShape));
            _graph.Output.Add(ValueInfo(OutputName, _examples[last].Shape[1..]));
            var model = new ModelProto
            {
                IrVersion = OnnxFormat.IrVersion,
                ProducerName = "Sharpgrad",
                ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
                Graph = _graph,
            };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxFormat.Opset });
            if (metadata is not null)
                foreach (var (k, v) in metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
            return model;
        }

        private static ValueInfoProto ValueInfo(string name, IReadOnlyList<int> exampleShape)
        {
            var shape = new TensorShapeProto();
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
            foreach (var d in exampleShape) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
            };
        }

        private static TensorProto FloatTensor(string name, Tensor value)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            foreach (var d in value.Shape) t.Dims.Add(d);
            t.FloatData.AddRange(value.ToArray());
            return t;
        }

        private static AttributeProto ToProto(OnnxAttribute a)
        {
            var p = new AttributeProto { Name = a.Name };
            switch (a.Value)
            {
                case long i:
                    p.Type = AttributeProto.Types.AttributeType.Int;
                    p.I = i;
                    break;
                case long[] ints:
                    p.Type = AttributeProto.Types.AttributeType.Ints;
                    p.Ints.AddRange(ints);
                    break;
                case float f:
                    p.Type = AttributeProto.Types.AttributeType.Float;
                    p.F = f;
                    break;
                case string s:
                    p.Type = AttributeProto.Types.AttributeType.String;
                    p.S = ByteString.CopyFromUtf8(s);
                    break;
                default:
                    throw new ArgumentException($"ONNX export: attribute '{a.Name}' has a value of type {a.Value.GetType().Name}.");
            }
            return p;
        }

        /// <summary>A value name not used yet: the current layer's path, "/", the operator and a counter.</summary>
        private string Fresh(string opType)
        {
            var prefix = _scope.Count > 0 && _scope.Peek().Length > 0 ? _scope.Peek() + "/" : "";
            string name;
            do name = $"{prefix}{opType}_{_counter++}";
            while (!_names.Add(name));
            return name;
        }
    }
}
