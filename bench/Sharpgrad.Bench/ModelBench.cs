using System.Text.Json;
using Sharpgrad.NN;

namespace Sharpgrad.Bench;

/// <summary>
/// --model NAME, --models: the side-by-side benchmark of a built-in model (<see cref="Models"/>), or of each in turn.
/// Per model, from the same initial weights (seed 1) in every engine:
/// a training step (forward, cross-entropy, backward, SGD with momentum) in Sharpgrad against TorchSharp (the
/// model's twin built from its description, <see cref="TorchTranslator"/>); inference at batch 256 and batch-1
/// latency in Sharpgrad (eval, NoGrad, TensorScope) against ONNX Runtime on the project's own ONNX export. Before
/// any timing the engines' eval-mode outputs are compared (<see cref="Agreement"/>). Every figure also as % of the
/// roofline and with Sharpgrad's allocation per warm step. With --profile, each top-level layer's forward and
/// backward in Sharpgrad as well; with --check, only the translations and the agreement checks, nothing timed.
/// </summary>
internal static class ModelBench
{
    private static readonly string[] Columns = ["torchsharp", "onnxruntime"];

    public static int Run(string[] args)
    {
        var names = new List<string>();
        int c = 1, h = 28, batch = 128, inferBatch = 256, reps = 5, threads = Environment.ProcessorCount;
        bool profile = false, quick = false, checkOnly = false;
        string? jsonPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--model":
                    string name = BenchOptions.Value(args, ref i);
                    if (!Models.Names.Contains(name)) throw new ArgumentException($"--model: unknown model '{name}'; expected one of {string.Join(", ", Models.Names)}");
                    names.Add(name);
                    break;
                case "--models": names.AddRange(Models.Names); break;
                case "--batch": batch = BenchOptions.Positive("--batch", BenchOptions.Value(args, ref i)); break;
                case "--infer-batch": inferBatch = BenchOptions.Positive("--infer-batch", BenchOptions.Value(args, ref i)); break;
                case "--reps": reps = BenchOptions.Positive("--reps", BenchOptions.Value(args, ref i)); break;
                case "--threads": threads = BenchOptions.Threads(BenchOptions.Value(args, ref i)); break;
                case "--input":
                    string text = BenchOptions.Value(args, ref i);
                    var parts = text.Split('x');
                    if (parts.Length != 3 || parts[1] != parts[2])
                        throw new ArgumentException($"--input: expected CxHxH (square images, channels first), e.g. 1x28x28 or 3x32x32, got '{text}'");
                    c = BenchOptions.Positive("--input", parts[0]);
                    h = BenchOptions.Positive("--input", parts[1]);
                    break;
                case "--quick": quick = true; break;
                case "--check": checkOnly = true; break;
                case "--json": jsonPath = BenchOptions.Value(args, ref i); break;
                case "--profile": profile = true; break;
                case "--ort-api": BenchOptions.OrtApi(BenchOptions.Value(args, ref i)); break;
                default: throw new ArgumentException($"unknown argument {args[i]}; expected --model NAME, --models, --input CxHxH, --batch N, --infer-batch N, --reps N, --threads N, --quick, --check, --json FILE, --ort-api binding|run|both, --profile");
            }
        }
        if (names.Count == 0) throw new ArgumentException("--model: expected a model name (or --models for every built-in model)");
        if (args.Contains("--models") && args.Contains("--model")) throw new ArgumentException("--models: runs every built-in model; give it or --model NAME, not both");
        if (OrtRunner.CompareApis) throw new ArgumentException("--ort-api: both is for the exam-CNN figures (the command without --model); with --model give binding or run");
        if (quick) reps = Math.Min(reps, 3);
        foreach (var (option, n) in new[] { ("--batch", batch), ("--infer-batch", inferBatch) })
            if ((long)n * c * h * h > Array.MaxLength)
                throw new ArgumentException($"{option}: {n} images of {c}x{h}x{h} are more elements than a tensor holds ({Array.MaxLength:N0})");
        BenchOptions.CheckOutput(jsonPath);
        foreach (var name in names) Models.Create(name, c, h, h, 10); // an input too small for a model fails here, before any timing

        SideBySide.UseThreads(threads);
        Console.WriteLine($"{SideBySide.Machine(threads)}; {reps} repetitions per engine, alternating");
        Console.WriteLine($"training at batch {batch} against TorchSharp; inference at batch {inferBatch} and latency at batch 1 against ONNX Runtime (the project's ONNX export; {OrtRunner.Api})");
        Console.WriteLine(Roofline.Explanation);
        var all = new List<(string Model, Figure Figure)>();
        foreach (var name in names)
        {
            all.AddRange(RunModel(name, c, h, batch, inferBatch, threads, reps, quick, checkOnly).Select(f => (name, f)));
            if (profile && Models.Create(name, c, h, h, 10, generator: new Generator(1)) is Sequential seq)
            {
                LayerProfile.Run(seq, c, h, batch, quick ? 5 : 11);
                if (Models.Create(name, c, h, h, 10, generator: new Generator(1)) is Sequential eval) LayerProfile.RunInference(eval, c, h, inferBatch, quick ? 11 : 51);
            }
        }
        if (names.Count > 1 && !checkOnly)
        {
            Console.WriteLine();
            Console.WriteLine($"{"model",-10} " + Figure.Header(Columns));
            foreach (var (model, f) in all) Console.WriteLine($"{model,-10} {f.Line(Columns)}");
        }
        var records = all.Select(e =>
        {
            var r = e.Figure.Record();
            r["model"] = e.Model;
            r["input"] = $"{c}x{h}x{h}";
            return r;
        }).ToList();
        if (jsonPath is not null)
        {
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(records, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {jsonPath}");
        }
        return 0;
    }

    private static List<Figure> RunModel(string name, int c, int h, int batch, int inferBatch, int threads, int reps, bool quick, bool checkOnly)
    {
        int[] shape = [c, h, h];
        // the same initial weights for every figure and engine; the input drawn after them
        (Module Model, Tensor Input) Make(int n)
        {
            var g = new Generator(1);
            var model = Models.Create(name, c, h, h, 10, generator: g);
            model.Fuse();
            return (model, Tensor.Randn([n, c, h, h], g));
        }
        var probe = Make(1).Model;
        var summary = ModelSummary.Create(probe, shape);
        double forward = Roofline.ForwardFlopsPerImage(probe, shape);
        Console.WriteLine();
        Console.WriteLine($"{name} {c}x{h}x{h}: {summary.TrainableParameters:N0} parameters, {summary.Macs:N0} MACs = {forward / 1e6:F2} MFLOP per image forward");
        // every engine built and checked first, so that nothing is timed for a model that one engine gets wrong
        var (trainModel, trainInput) = Make(batch);
        var sg = new SharpgradRunner(trainModel, trainInput, train: true);
        var expected = sg.EvalOutput(out _);
        using var ts = new TorchRunner(trainModel, trainInput, train: true);
        double diff = Agreement.Check($"{name}, TorchSharp", expected, ts.EvalOutput);
        Console.WriteLine($"  check: TorchSharp's eval output at batch {batch} within {diff:G2} of Sharpgrad's (outputs up to {Agreement.Largest(expected):G3} in size)");
        var inference = new List<(int Batch, SharpgradRunner Sharpgrad, OrtRunner Ort)>();
        try
        {
            foreach (int n in new[] { inferBatch, 1 })
            {
                var (model, input) = Make(n);
                var runner = new SharpgradRunner(model, input, train: false);
                var y = runner.EvalOutput(out int[] outShape);
                var ort = new OrtRunner(model, input, outShape, threads);
                inference.Add((n, runner, ort));
                diff = Agreement.Check($"{name}, ONNX Runtime at batch {n}", y, ort.Output);
                Console.WriteLine($"  check: ONNX Runtime's output at batch {n} within {diff:G2} of Sharpgrad's (outputs up to {Agreement.Largest(y):G3} in size)");
            }
            var figures = new List<Figure>();
            if (checkOnly) return figures;
            Console.WriteLine(Figure.Header(Columns));
            void Add(Figure f)
            {
                figures.Add(f);
                Console.WriteLine(f.Line(Columns));
            }
            // training against TorchSharp; inference and latency against ONNX Runtime
            Add(SideBySide.Measure($"train b{batch}", batch, false, 3 * forward, threads, sg.Step, [("torchsharp", ts.Step)], reps, quick));
            foreach (var (n, runner, ort) in inference)
                Add(SideBySide.Measure(n == 1 ? "latency b1" : $"inference b{n}", n, n == 1, forward, threads, runner.Step, [("onnxruntime", ort.Step)], reps, quick));
            return figures;
        }
        finally
        {
            foreach (var e in inference) e.Ort.Dispose();
        }
    }
}
