using Microsoft.ML.OnnxRuntime;
using Sharpgrad.NN;
using Sharpgrad.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Sharpgrad.Bench;

/// <summary>
/// One figure in Sharpgrad: a training step (forward, cross-entropy, backward, SGD with momentum 0.9) in a
/// <see cref="TensorScope"/> (the step's tensors go back to a pool at its end), or an inference through the library's
/// entry point for it, <see cref="Module.Predict"/> on the whole batch (pooled memory, no gradients; a large batch
/// of a per-sample model runs depth first).
/// </summary>
internal sealed class SharpgradRunner
{
    private readonly int[] _labels;
    private readonly Sgd _opt;
    private readonly bool _train;

    /// <param name="model">The model, fused as the trainer runs it; put in training or eval mode here.</param>
    /// <param name="input">(N, C, H, W).</param>
    /// <param name="train">A training step, or an inference.</param>
    /// <param name="classes">Labels cycle over 0..classes-1.</param>
    public SharpgradRunner(Module model, Sharpgrad.Tensor input, bool train, int classes = 10)
    {
        Model = model;
        Input = input;
        _train = train;
        _labels = [.. Enumerable.Range(0, input.Shape[0]).Select(i => i % classes)];
        _opt = new Sgd(model.Parameters(), 0.01, momentum: 0.9);
        model.Train(train);
    }

    public Module Model { get; }

    public Sharpgrad.Tensor Input { get; }

    public void Step()
    {
        if (!_train)
        {
            Model.Predict(Input, Input.Shape[0]);
            return;
        }
        using var scope = Sharpgrad.TensorScope.Begin();
        var loss = Losses.CrossEntropy(Model.Forward(Input), _labels);
        _opt.ZeroGrad();
        loss.Backward();
        _opt.Step();
        _opt.ZeroGrad();
    }

    /// <summary>The eval-mode output for <see cref="Input"/> as <see cref="Step"/> computes it (<see cref="Module.Predict"/>), flattened.</summary>
    public float[] EvalOutput(out int[] shape)
    {
        var y = Model.Predict(Input, Input.Shape[0]);
        shape = y.Shape;
        return y.ToArray();
    }
}

/// <summary>
/// The same figure in TorchSharp (libtorch): the model's twin built from its description with its weights copied
/// in (<see cref="TorchTranslator"/>), the same input, the same labels, SGD with momentum 0.9.
/// </summary>
internal sealed class TorchRunner : IDisposable
{
    private readonly nn.Module<torch.Tensor, torch.Tensor> _model;
    private readonly torch.Tensor _x, _y;
    private readonly optim.Optimizer _opt;
    private readonly bool _train;

    public TorchRunner(Module source, Sharpgrad.Tensor input, bool train, int classes = 10)
    {
        _train = train;
        _model = TorchTranslator.Twin(source);
        long[] shape = [.. input.Shape.Select(d => (long)d)];
        _x = torch.tensor(input.ToArray(), shape);
        _y = torch.tensor(Enumerable.Range(0, input.Shape[0]).Select(i => (long)(i % classes)).ToArray());
        _opt = optim.SGD(_model.parameters(), 0.01, momentum: 0.9);
        if (train) _model.train();
        else _model.eval();
    }

    public void Step()
    {
        using var scope = torch.NewDisposeScope();
        if (_train)
        {
            var loss = nn.functional.cross_entropy(_model.forward(_x), _y);
            _opt.zero_grad();
            loss.backward();
            _opt.step();
        }
        else
        {
            using var _ = torch.no_grad();
            _model.forward(_x);
        }
    }

    /// <summary>The eval-mode output, flattened (the mode is restored afterwards).</summary>
    public float[] EvalOutput()
    {
        _model.eval();
        try
        {
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            return _model.forward(_x).contiguous().data<float>().ToArray();
        }
        finally
        {
            if (_train) _model.train();
        }
    }

    public void Dispose()
    {
        _opt.Dispose();
        _model.Dispose();
        _x.Dispose();
        _y.Dispose();
    }
}

/// <summary>
/// Inference in ONNX Runtime (CPU provider) on the project's own export of the model (<see cref="OnnxExport"/>):
/// intra-op threads as given, inter-op 1, all graph optimizations, sequential execution. The input and output are
/// OrtValues over pinned arrays made once; a step either runs an IOBinding they were bound to once (RunWithBinding,
/// the default) or passes them to Run with the names (<see cref="UseBinding"/> false: --ort-api run; --ort-api both
/// times the two side by side in the exam-CNN figures); neither allocates or copies on the .NET side.
/// </summary>
internal sealed class OrtRunner : IDisposable
{
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly OrtIoBinding _binding;
    private readonly OrtValue _in, _out;
    private readonly float[] _x, _y;
    private readonly string[] _inputNames = [OnnxExport.InputName], _outputNames = [OnnxExport.OutputName];
    private readonly OrtValue[] _inputs, _outputs;

    /// <summary>RunWithBinding on the pre-bound IOBinding (true, the default), or Run with the pre-made OrtValues.</summary>
    public static bool UseBinding { get; set; } = true;

    /// <summary>--ort-api both: the exam-CNN figures time a second ONNX Runtime engine that calls Run ("onnxruntime-run").</summary>
    public static bool CompareApis { get; set; }

    private readonly bool _useBinding;

    /// <summary>How a step calls ONNX Runtime, for the report.</summary>
    public static string Api => CompareApis ? "onnxruntime: RunWithBinding on a pre-bound IOBinding; onnxruntime-run: Run with pre-made input and output OrtValues"
        : UseBinding ? "RunWithBinding on a pre-bound IOBinding" : "Run with pre-made input and output OrtValues";

    /// <param name="model">The model, exported in eval mode (its mode is restored).</param>
    /// <param name="input">(N, C, H, W), copied.</param>
    /// <param name="outputShape">The model's output shape for that input.</param>
    /// <param name="threads">Intra-op threads.</param>
    /// <param name="useBinding">RunWithBinding or Run; default <see cref="UseBinding"/>.</param>
    public OrtRunner(Module model, Sharpgrad.Tensor input, int[] outputShape, int threads, bool? useBinding = null)
    {
        _useBinding = useBinding ?? UseBinding;
        _options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        _session = new InferenceSession(OnnxExport.ToBytes(model, input.Shape[1..]), _options);
        _x = input.ToArray();
        _y = new float[outputShape.Aggregate(1, (a, b) => a * b)];
        _in = OrtValue.CreateTensorValueFromMemory(_x, [.. input.Shape.Select(d => (long)d)]);
        _out = OrtValue.CreateTensorValueFromMemory(_y, [.. outputShape.Select(d => (long)d)]);
        _binding = _session.CreateIoBinding();
        _binding.BindInput(OnnxExport.InputName, _in);
        _binding.BindOutput(OnnxExport.OutputName, _out);
        _inputs = [_in];
        _outputs = [_out];
    }

    public void Step()
    {
        if (_useBinding) _session.RunWithBinding(_run, _binding);
        else _session.Run(_run, _inputNames, _inputs, _outputNames, _outputs);
    }

    /// <summary>The output of one run, copied.</summary>
    public float[] Output()
    {
        Step();
        return (float[])_y.Clone();
    }

    public void Dispose()
    {
        _binding.Dispose();
        _in.Dispose();
        _out.Dispose();
        _run.Dispose();
        _session.Dispose();
        _options.Dispose();
    }
}

/// <summary>Once per model, before any timing: do the engines compute the same function?</summary>
internal static class Agreement
{
    /// <summary>
    /// The largest tolerated |difference| of two engines' float32 outputs: 1e-4, scaled down with the outputs when
    /// they are all smaller than 1 (a freshly initialized model's logits can be ~0.1, where 1e-4 would let a wrong
    /// stride through; float32 rounding differs by ~1e-6 of the size).
    /// </summary>
    public const double Tolerance = 1e-4;

    /// <summary>The largest |value|, to read a difference against.</summary>
    public static double Largest(float[] values) => values.Length == 0 ? 0 : values.Max(v => Math.Abs((double)v));

    /// <summary>
    /// Runs <paramref name="other"/> and returns the largest |sharpgrad[i] - other[i]|; throws when the engine fails,
    /// the lengths differ or the difference exceeds <see cref="Tolerance"/> x min(1, largest |sharpgrad[i]|).
    /// </summary>
    /// <exception cref="InvalidOperationException">The other engine failed or disagrees (one line naming <paramref name="what"/>).</exception>
    public static double Check(string what, float[] sharpgrad, Func<float[]> other)
    {
        float[] theirs;
        try
        {
            theirs = other();
        }
        catch (Exception e) when (e is not InvalidOperationException)
        {
            throw new InvalidOperationException($"{what}: the engine failed on the model: {e.Message.Split('\n')[0].Trim()}", e);
        }
        if (sharpgrad.Length != theirs.Length)
            throw new InvalidOperationException($"{what}: Sharpgrad gives {sharpgrad.Length} outputs, the other engine {theirs.Length}.");
        double worst = 0;
        for (int i = 0; i < sharpgrad.Length; i++)
        {
            double d = Math.Abs((double)sharpgrad[i] - theirs[i]);
            if (!(d <= worst)) worst = d; // NaN counts as the worst
        }
        double tolerance = Tolerance * Math.Min(1, Largest(sharpgrad));
        if (!(worst <= tolerance))
            throw new InvalidOperationException($"{what}: eval-mode outputs differ by up to {worst:G3} (more than {tolerance:G3}: 1e-4 x min(1, largest output {Largest(sharpgrad):G3})); the translation or an engine is wrong, so no figure is timed.");
        return worst;
    }
}
