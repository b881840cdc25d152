using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sharpgrad;
using Sharpgrad.Bench;
using Sharpgrad.NN;
using TorchSharp;
using static TorchSharp.torch;

// The side-by-side benchmark: the exam CNN in Sharpgrad and in TorchSharp (libtorch), same weights, alternating runs.
// Usage: Sharpgrad.Bench [--threads N] [--quick] [--reps N] [--batch N[,N...]] [--json FILE] [--only FIGURE-SUBSTRING]
//        Sharpgrad.Bench --kernels [BenchmarkDotNet arguments, e.g. --filter *Gemm*]
//        Sharpgrad.Bench --profile [C (3 or 1)] [BATCH] [infer]   time each layer's forward and backward (or eval forward)
//        Sharpgrad.Bench --model NAME [--input 1x28x28] [--batch 128] [--reps 5] [--threads N] [--profile]
//            a training step and an inference of any built-in model, Sharpgrad only (per-layer with --profile)
if (args.Length > 0 && args[0] == "--kernels")
{
    BenchmarkDotNet.Running.BenchmarkSwitcher.FromTypes([typeof(GemmBenchmarks), typeof(GemmShapeBenchmarks), typeof(LayerBenchmarks)]).Run(args[1..]);
    return 0;
}
if (args.Length > 1 && args[0] == "--model")
{
    try
    {
        return ModelBench.Run(args[1..]);
    }
    catch (Exception e) when (e is ArgumentException or FormatException)
    {
        Console.Error.WriteLine("error: " + e.Message);
        return 2;
    }
}
if (args.Length > 0 && args[0] == "--profile")
{
    int pc = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3, pb = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
    if (args.Length > 3 && args[3] == "infer") LayerProfile.RunInference(pc, pc == 1 ? 28 : 32, pb, 201);
    else LayerProfile.Run(pc, pc == 1 ? 28 : 32, pb, 101);
    return 0;
}
int threads = Environment.ProcessorCount, reps = 7;
bool quick = false;
string? jsonPath = null, only = null;
int[]? batches = null;
for (int i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]}: expected a value after it");
    int Positive(string option, string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
        ? v : throw new ArgumentException($"{option}: expected a positive whole number, got '{text}'");
    try
    {
        switch (args[i])
        {
            case "--threads": threads = Positive("--threads", Value()); break;
            case "--reps": reps = Positive("--reps", Value()); break;
            case "--batch": batches = [.. Value().Split(',').Select(b => Positive("--batch", b))]; break;
            case "--quick": quick = true; break;
            case "--json": jsonPath = Value(); break;
            case "--only": only = Value(); break;
            default: throw new ArgumentException($"unknown argument {args[i]}; expected --threads N, --reps N, --batch N[,N...], --quick, --json FILE, --only TEXT");
        }
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine("error: " + e.Message);
        return 2;
    }
}
if (quick) reps = Math.Min(reps, 3);
var patched = ElfPatch.PatchBesideExecutable();
if (patched is not null) Console.WriteLine($"patched {patched}: GLIBCXX_3.4.32 requirement marked weak");
Parallelism.MaxThreads = threads;
torch.set_num_threads(threads);
torch.set_num_interop_threads(1);
Console.WriteLine($"threads {threads}, {reps} repetitions per engine, alternating; {Environment.ProcessorCount} cores, AVX-512: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}");

// the issue's six figures, or with --batch, training and inference of both inputs at each given batch size
var figures = batches is null
    ? new (string Name, int C, int H, int Batch, string Kind)[]
    {
        ("train 3x32x32 b64", 3, 32, 64, "train"),
        ("train 3x32x32 b256", 3, 32, 256, "train"),
        ("inference 3x32x32 b256", 3, 32, 256, "infer"),
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
Console.WriteLine($"{"figure",-24} {"unit",-6} {"sharpgrad (median, min-max)",-30} {"torchsharp (median, min-max)",-30} ratio");
foreach (var f in figures)
{
    if (only is not null && !f.Name.Contains(only, StringComparison.Ordinal)) continue;
    var sg = new SharpgradRunner(f.C, f.H, f.Batch, f.Kind);
    using var ts = new TorchRunner(f.C, f.H, f.Batch, f.Kind, sg.Model);
    // warm-up by time, so the first figure is not measured in tier-0 JIT code (tiering needs ~100 ms of calls)
    for (var warm = Stopwatch.StartNew(); warm.ElapsedMilliseconds < (quick ? 150 : 400);) sg.Step();
    for (var warm = Stopwatch.StartNew(); warm.ElapsedMilliseconds < (quick ? 150 : 400);) ts.Step();
    double target = quick ? 0.15 : 0.5; // seconds per repetition
    int iters = Math.Max(1, (int)(target / Math.Max(1e-6, Time(sg.Step, 3) / 3)));
    int itersT = Math.Max(1, (int)(target / Math.Max(1e-6, Time(ts.Step, 3) / 3)));
    var a = new List<double>();
    var b = new List<double>();
    for (int r = 0; r < reps; r++)
    {
        // a pause before each repetition, so the other engine's spinning worker threads (OpenMP's, the .NET thread
        // pool's) have gone idle and neither engine starts on a busy machine
        Thread.Sleep(30);
        a.Add(Time(sg.Step, iters) / iters);
        Thread.Sleep(30);
        b.Add(Time(ts.Step, itersT) / itersT);
    }
    long before = GC.GetTotalAllocatedBytes(precise: true);
    var pause0 = GC.GetTotalPauseDuration();
    var wall = Stopwatch.StartNew();
    for (int i = 0; i < 20; i++) sg.Step();
    double gcShare = (GC.GetTotalPauseDuration() - pause0).TotalSeconds / wall.Elapsed.TotalSeconds;
    double bytesPerStep = (GC.GetTotalAllocatedBytes(precise: true) - before) / 20.0;
    bool latency = f.Kind == "latency";
    double Value(double secondsPerStep) => latency ? secondsPerStep * 1e6 : f.Batch / secondsPerStep;
    var va = a.Select(Value).Order().ToArray();
    var vb = b.Select(Value).Order().ToArray();
    double ma = va[va.Length / 2], mb = vb[vb.Length / 2];
    double ratio = latency ? mb / ma : ma / mb;
    string unit = latency ? "us" : "img/s";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{f.Name,-24} {unit,-6} {$"{ma:N0} ({va[0]:N0}-{va[^1]:N0})",-30} {$"{mb:N0} ({vb[0]:N0}-{vb[^1]:N0})",-30} {ratio:F2}x   {bytesPerStep / 1e6:F1} MB allocated per step, {gcShare:P0} of it in GC pauses"));
    records.Add(new Dictionary<string, object>
    {
        ["figure"] = f.Name, ["unit"] = unit, ["sharpgrad"] = Math.Round(ma, 1), ["torchsharp"] = Math.Round(mb, 1), ["ratio"] = Math.Round(ratio, 3),
        ["sharpgrad_bytes_per_step"] = Math.Round(bytesPerStep),
        ["sharpgrad_gc_pause_share"] = Math.Round(gcShare, 3),
        ["sharpgrad_min"] = Math.Round(va[0], 1), ["sharpgrad_max"] = Math.Round(va[^1], 1), ["torchsharp_min"] = Math.Round(vb[0], 1), ["torchsharp_max"] = Math.Round(vb[^1], 1),
    });
}
if (jsonPath is not null)
{
    File.WriteAllText(jsonPath, JsonSerializer.Serialize(records, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {jsonPath}");
}
return 0;

static double Time(Action step, int iterations)
{
    var sw = Stopwatch.StartNew();
    for (int i = 0; i < iterations; i++) step();
    return sw.Elapsed.TotalSeconds;
}

/// <summary>One figure in Sharpgrad: a training step (forward, cross-entropy, backward, SGD) or an eval forward.</summary>
internal sealed class SharpgradRunner
{
    private readonly Sharpgrad.Tensor _x;
    private readonly int[] _labels;
    private readonly Sgd _opt;
    private readonly string _kind;

    public SharpgradRunner(int c, int h, int batch, string kind)
    {
        _kind = kind;
        var g = new Sharpgrad.Generator(1);
        Model = ExamCnn.Create(c, h, h, generator: g);
        Model.Fuse();
        _x = Sharpgrad.Tensor.Randn([batch, c, h, h], g);
        _labels = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
        _opt = new Sgd(Model.Parameters(), 0.01, momentum: 0.9);
        if (kind != "train") Model.Eval();
        for (int i = 0; i < 3; i++) Step();
    }

    public Sequential Model { get; }

    public void Step()
    {
        // like TorchSharp's dispose scope below: the step's tensors go back to a pool at its end
        using var scope = Sharpgrad.TensorScope.Begin();
        if (_kind == "train")
        {
            var loss = Losses.CrossEntropy(Model.Forward(_x), _labels);
            _opt.ZeroGrad();
            loss.Backward();
            _opt.Step();
            _opt.ZeroGrad();
        }
        else
        {
            using var _ = GradMode.NoGrad();
            Model.Forward(_x);
        }
    }
}

/// <summary>The same figure in TorchSharp, with the Sharpgrad model's weights copied in.</summary>
internal sealed class TorchRunner : IDisposable
{
    private readonly nn.Module<torch.Tensor, torch.Tensor> _model;
    private readonly torch.Tensor _x, _y;
    private readonly optim.Optimizer _opt;
    private readonly string _kind;

    public TorchRunner(int c, int h, int batch, string kind, Sequential source)
    {
        _kind = kind;
        _model = nn.Sequential(
            ("0", nn.Conv2d(c, 16, 3, padding: 1)), ("1", nn.ReLU()), ("2", nn.MaxPool2d(2)), ("3", nn.BatchNorm2d(16)),
            ("4", nn.Conv2d(16, 16, 3, padding: 1)), ("5", nn.ReLU()), ("6", nn.MaxPool2d(2)), ("7", nn.Flatten()),
            ("8", nn.Linear(16 * (h / 4) * (h / 4), 10)));
        using (torch.no_grad())
        {
            var sd = _model.state_dict();
            foreach (var (name, t) in source.StateDict())
            {
                if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal)) continue;
                sd[name].copy_(torch.tensor(t.ToArray(), t.Shape.Select(d => (long)d).ToArray()));
            }
        }
        var g = new Sharpgrad.Generator(1);
        _x = torch.tensor(Sharpgrad.Tensor.Randn([batch, c, h, h], g).ToArray(), [batch, c, h, h]);
        _y = torch.tensor(Enumerable.Range(0, batch).Select(i => (long)(i % 10)).ToArray());
        _opt = optim.SGD(_model.parameters(), 0.01, momentum: 0.9);
        if (kind != "train") _model.eval();
        for (int i = 0; i < 3; i++) Step();
    }

    public void Step()
    {
        using var scope = torch.NewDisposeScope();
        if (_kind == "train")
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

    public void Dispose()
    {
        _model.Dispose();
        _x.Dispose();
        _y.Dispose();
    }
}
