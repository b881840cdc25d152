using System.Globalization;
using System.Text.Json;
using Sharpgrad.Bench;
using Sharpgrad.NN;

// The side-by-side benchmark: the exam CNN in Sharpgrad, TorchSharp (libtorch) and, for inference, ONNX Runtime on
// the project's own ONNX export; same weights, alternating runs.
// Usage: Sharpgrad.Bench [--threads N] [--quick] [--reps N] [--batch N[,N...]] [--json FILE] [--only FIGURE-SUBSTRING]
//            [--ort-api binding|run|both]
//        Sharpgrad.Bench --kernels [BenchmarkDotNet arguments, e.g. --filter *Gemm*]
//        Sharpgrad.Bench --profile [C (3 or 1)] [BATCH] [infer]   time each layer's forward and backward (or eval forward)
//        Sharpgrad.Bench --model NAME | --models [--input 1x28x28] [--batch 128] [--infer-batch 256] [--reps N]
//            [--threads N] [--quick] [--check] [--json FILE] [--ort-api binding|run|both] [--profile]
//            any built-in model (or each in turn): training against TorchSharp, inference and batch-1 latency against
//            ONNX Runtime (ModelBench; per-layer profile of Sharpgrad with --profile)
try
{
    return Run(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}
catch (Exception e) when (e is InvalidOperationException or NotSupportedException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException or System.Runtime.InteropServices.ExternalException)
{
    // a translation, export, engine or agreement check that failed (ExternalException: libtorch's errors): no figure is reported
    Console.Error.WriteLine("error: " + e.Message.Split('\n')[0].Trim());
    return 1;
}

static int Run(string[] args)
{
    Roofline.Check();
    if (args.Length > 0 && args[0] == "--kernels")
    {
        BenchmarkDotNet.Running.BenchmarkSwitcher.FromTypes([typeof(GemmBenchmarks), typeof(GemmShapeBenchmarks), typeof(LayerBenchmarks)]).Run(args[1..]);
        return 0;
    }
    // --model NAME / --models anywhere on the line: the every-model bench (its options in any order)
    if (args.Contains("--model") || args.Contains("--models")) return ModelBench.Run(args);
    if (args.Length > 0 && args[0] == "--profile")
    {
        // --profile [C [BATCH [infer]]]: nothing else on the line
        if (args.Length > 4 || args.Length == 4 && args[3] != "infer")
            throw new ArgumentException($"--profile: expected --profile [C [BATCH [infer]]], got '{string.Join(' ', args)}'");
        int pc = args.Length > 1 ? BenchOptions.Positive("--profile C", args[1]) : 3, pb = args.Length > 2 ? BenchOptions.Positive("--profile BATCH", args[2]) : 64;
        if (pc is not (1 or 3)) throw new ArgumentException($"--profile: expected 3 (3x32x32) or 1 (1x28x28) channels, got {pc}");
        if (args.Length > 3) LayerProfile.RunInference(pc, pc == 1 ? 28 : 32, pb, 201);
        else LayerProfile.Run(pc, pc == 1 ? 28 : 32, pb, 101);
        return 0;
    }
    int threads = Environment.ProcessorCount, reps = 7;
    bool quick = false;
    string? jsonPath = null, only = null;
    int[]? batches = null;
    for (int i = 0; i < args.Length; i++)
    {
        switch (args[i])
        {
            case "--threads": threads = BenchOptions.Threads(BenchOptions.Value(args, ref i)); break;
            case "--reps": reps = BenchOptions.Positive("--reps", BenchOptions.Value(args, ref i)); break;
            case "--batch": batches = [.. BenchOptions.Value(args, ref i).Split(',').Select(b => BenchOptions.Positive("--batch", b))]; break;
            case "--quick": quick = true; break;
            case "--json": jsonPath = BenchOptions.Value(args, ref i); break;
            case "--only": only = BenchOptions.Value(args, ref i); break;
            case "--ort-api": BenchOptions.OrtApi(BenchOptions.Value(args, ref i)); break;
            default: throw new ArgumentException($"unknown argument {args[i]}; expected --threads N, --reps N, --batch N[,N...], --quick, --json FILE, --only TEXT, --ort-api binding|run|both (or --model NAME, --models, --profile, --kernels first)");
        }
    }
    if (quick) reps = Math.Min(reps, 3);
    BenchOptions.CheckOutput(jsonPath);
    SideBySide.UseThreads(threads);
    Console.WriteLine($"exam CNN; {SideBySide.Machine(threads)}; {reps} repetitions per engine, alternating; ONNX Runtime: {OrtRunner.Api}");
    Console.WriteLine(Roofline.Explanation);

    // the six figures, or with --batch, training and inference of both inputs at each given batch size
    var figures = batches is null
        ? new (string Name, int C, int H, int Batch, string Kind)[]
        {
            ("train 3x32x32 b64", 3, 32, 64, "train"),
            ("train 3x32x32 b256", 3, 32, 256, "train"),
            ("inference 3x32x32 b256", 3, 32, 256, "infer"),
            ("inference 3x32x32 b64", 3, 32, 64, "infer"),
            ("latency 3x32x32 b1", 3, 32, 1, "latency"),
            ("train 1x28x28 b64", 1, 28, 64, "train"),
            ("inference 1x28x28 b256", 1, 28, 256, "infer"),
        }
        : [.. batches.SelectMany(b => new[] { (3, 32), (1, 28) }.SelectMany(s => new[]
        {
            ($"train {s.Item1}x{s.Item2}x{s.Item2} b{b}", s.Item1, s.Item2, b, "train"),
            (b == 1 ? $"latency {s.Item1}x{s.Item2}x{s.Item2} b1" : $"inference {s.Item1}x{s.Item2}x{s.Item2} b{b}", s.Item1, s.Item2, b, b == 1 ? "latency" : "infer"),
        }))];
    var records = new List<Dictionary<string, object>>();
    string[] columns = OrtRunner.CompareApis ? ["torchsharp", "onnxruntime", "onnxruntime-run"] : ["torchsharp", "onnxruntime"];
    Console.WriteLine(Figure.Header(columns));
    foreach (var f in figures)
    {
        if (only is not null && !f.Name.Contains(only, StringComparison.Ordinal)) continue;
        var g = new Sharpgrad.Generator(1);
        var model = ExamCnn.Create(f.C, f.H, f.H, generator: g);
        model.Fuse();
        bool train = f.Kind == "train";
        var sg = new SharpgradRunner(model, Sharpgrad.Tensor.Randn([f.Batch, f.C, f.H, f.H], g), train);
        // the same weights and input in each engine, and the same function: checked before anything is timed
        var expected = sg.EvalOutput(out int[] outShape);
        using var ts = new TorchRunner(model, sg.Input, train);
        Agreement.Check($"exam CNN {f.Name}, TorchSharp", expected, ts.EvalOutput);
        using var ort = train ? null : new OrtRunner(model, sg.Input, outShape, threads);
        if (ort is not null) Agreement.Check($"exam CNN {f.Name}, ONNX Runtime", expected, ort.Output);
        var others = new List<(string, Action)> { ("torchsharp", ts.Step) };
        if (ort is not null) others.Add(("onnxruntime", ort.Step));
        using var ortRun = ort is not null && OrtRunner.CompareApis ? new OrtRunner(model, sg.Input, outShape, threads, useBinding: false) : null;
        if (ortRun is not null)
        {
            Agreement.Check($"exam CNN {f.Name}, ONNX Runtime (Run)", expected, ortRun.Output);
            others.Add(("onnxruntime-run", ortRun.Step));
        }
        double flops = Roofline.ForwardFlopsPerImage(model, [f.C, f.H, f.H]) * (train ? 3 : 1);
        var figure = SideBySide.Measure(f.Name, f.Batch, f.Kind == "latency", flops, threads, sg.Step, others, reps, quick);
        Console.WriteLine(figure.Line(columns));
        records.Add(figure.Record());
    }
    if (jsonPath is not null)
    {
        File.WriteAllText(jsonPath, JsonSerializer.Serialize(records, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {jsonPath}");
    }
    return 0;
}
