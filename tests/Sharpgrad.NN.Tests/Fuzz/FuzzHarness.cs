using Sharpgrad.Workflows;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace Sharpgrad.NN.Tests.Fuzz;

/// <summary>One loader entry point under fuzzing: its seed folder, its format (for the mutator) and how it loads a file.</summary>
internal sealed record FuzzTarget(string Name, string Format, Action<byte[], string> Load);

/// <summary>What a fuzz run of one target found.</summary>
internal sealed record FuzzReport(string Target, long Inputs, long Rejected, List<string> Failures, double SlowestMs, long MostAllocatedBytes, long PeakRssGrowthBytes, double Seconds)
{
    public string Line() => string.Create(CultureInfo.InvariantCulture,
        $"{Target,-12} inputs {Inputs,9:N0}  rejected {Rejected,9:N0}  undocumented exceptions {Failures.Count}  slowest {SlowestMs,8:F1} ms  most allocated {MostAllocatedBytes / 1048576.0,7:F1} MB  peak RSS growth {PeakRssGrowthBytes / 1048576.0,7:F1} MB  ({Seconds:F0} s)");
}

/// <summary>
/// The in-process fuzzer: mutates each target's seed corpus (Fuzz/corpus/TARGET) and runs the loader on every
/// input in this process. The only exception a loader may throw is <see cref="DataException"/>; anything else is a
/// failure whose input is saved (to SHARPGRAD_FUZZ_FINDINGS, default the temp folder). Per input it measures the
/// wall time, the managed bytes allocated on this thread and the growth of the process's peak resident set (Linux:
/// /proc/self/clear_refs resets the peak, so native allocations of the image decoder are counted too). An input
/// that runs past the watchdog (60 s) is saved and the process stops rather than hang.
/// </summary>
internal static class FuzzHarness
{
    public static string CorpusRoot => Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus");

    public static string RegressionRoot => Path.Combine(AppContext.BaseDirectory, "Fuzz", "regressions");

    private static readonly string Work = Path.Combine(Path.GetTempPath(), "sharpgrad-fuzz-" + Environment.ProcessId);

    private static string Fixed(string target, string file) => Path.Combine(CorpusRoot, target, file);

    /// <summary>Every loader entry point.</summary>
    public static readonly FuzzTarget[] Targets =
    [
        new("idx", "bytes", (b, dir) => Idx.Read(WriteFile(dir, "images-idx3-ubyte", b))),
        new("idx-gz", "gzip", (b, dir) => Idx.Read(WriteFile(dir, "images-idx3-ubyte.gz", b))),
        new("idx-labels", "bytes", (b, dir) => MnistIdx.LoadPart(Fixed("idx", "images-idx3-ubyte"), WriteFile(dir, "labels-idx1-ubyte", b), MnistIdx.FashionClasses)),
        new("cifar", "bytes", (b, dir) => Cifar10.ReadFiles([WriteFile(dir, "data_batch_1.bin", b)])),
        new("png", "png", (b, _) => ImageFolder.Decode(b, "fuzz.png")),
        new("jpeg", "bytes", (b, _) => ImageFolder.Decode(b, "fuzz.jpg")),
        new("bmp", "bytes", (b, _) => ImageFolder.Decode(b, "fuzz.bmp")),
        new("safetensors", "bytes", (b, dir) => SafeTensors.Read(WriteFile(dir, "model.safetensors", b))),
        new("run", "json", (b, dir) =>
        {
            CopyOnce(Fixed("run", RunFiles.Weights), Path.Combine(dir, RunFiles.Weights));
            WriteFile(dir, RunFiles.ModelJson, b);
            RunFiles.Load(dir);
        }),
        new("checkpoint", "safetensors-json", (b, dir) =>
        {
            WriteFile(dir, RunFiles.Checkpoint, b);
            TrainWorkflow.ReadCheckpoint(dir);
        }),
        new("modelspec", "json", (b, dir) => ModelSpec.Load(WriteFile(dir, "model.json", b))),
        new("onnx", "bytes", (b, dir) => Sharpgrad.Onnx.OnnxModel.Load(WriteFile(dir, "model.onnx", b))),
    ];

    private static string WriteFile(string dir, string name, byte[] b)
    {
        var p = Path.Combine(dir, name);
        File.WriteAllBytes(p, b);
        return p;
    }

    private static void CopyOnce(string from, string to)
    {
        if (!File.Exists(to)) File.Copy(from, to);
    }

    public static IReadOnlyList<byte[]> Seeds(string target, string? corpus = null)
    {
        string dir = Path.Combine(corpus ?? CorpusRoot, target);
        var files = Directory.GetFiles(dir).Where(f => !(target == "run" && f.EndsWith(".safetensors", StringComparison.Ordinal))).Order(StringComparer.Ordinal);
        return [.. files.Select(File.ReadAllBytes)];
    }

    /// <summary>Runs one input; returns the exception a loader threw (null when it loaded).</summary>
    public static Exception? RunOne(FuzzTarget target, byte[] input)
    {
        var dir = Path.Combine(Work, target.Name);
        Directory.CreateDirectory(dir);
        try
        {
            target.Load(input, dir);
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static long _inputStarted;
    private static string? _current;
    private static byte[]? _currentInput;

    /// <summary>Fuzzes <paramref name="target"/> with <paramref name="inputs"/> mutated inputs.</summary>
    public static FuzzReport Run(FuzzTarget target, long inputs, ulong seed, Action<string>? progress = null)
    {
        var seeds = Seeds(target.Name);
        var mutator = new Mutator(seed ^ (ulong)target.Name.GetHashCode(StringComparison.Ordinal));
        var failures = new List<string>();
        double slowest = 0;
        long mostAllocated = 0, peakGrowth = 0, rejected = 0;
        bool rss = OperatingSystem.IsLinux() && File.Exists("/proc/self/clear_refs");
        var total = Stopwatch.StartNew();
        using var watchdog = new Timer(_ => Watch(), null, 1000, 1000);
        // every seed first (they must load), then mutations
        for (long i = 0; i < inputs + seeds.Count; i++)
        {
            var input = i < seeds.Count ? seeds[(int)i] : mutator.Mutate(seeds, target.Format);
            long rssBefore = 0;
            if (rss && (i & 15) == 0)
            {
                ResetPeak();
                rssBefore = Status("VmRSS:");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            _current = target.Name;
            _currentInput = input;
            Interlocked.Exchange(ref _inputStarted, Stopwatch.GetTimestamp());
            var e = RunOne(target, input);
            double ms = Stopwatch.GetElapsedTime(Interlocked.Exchange(ref _inputStarted, 0)).TotalMilliseconds;
            mostAllocated = Math.Max(mostAllocated, GC.GetAllocatedBytesForCurrentThread() - allocated);
            if (rss && (i & 15) == 0) peakGrowth = Math.Max(peakGrowth, Status("VmHWM:") - rssBefore);
            if (i >= seeds.Count && ms > slowest)
            {
                slowest = ms;
                if (ms > 250) Save(target.Name, input, string.Create(CultureInfo.InvariantCulture, $"slow: {ms:F0} ms"));
            }
            if (i < seeds.Count)
            {
                if (e is not null) failures.Add($"seed {i} of {target.Name} does not load: {e.GetType().Name}: {e.Message}");
            }
            else if (e is DataException) rejected++;
            else if (e is not null) failures.Add(Save(target.Name, input, e.GetType().Name + ": " + e.Message.ReplaceLineEndings(" ")));
            if (progress is not null && i > 0 && i % 100_000 == 0) progress($"{target.Name}: {i:N0} inputs, {failures.Count} failures, slowest {slowest:F1} ms");
        }
        Directory.Delete(Path.Combine(Work, target.Name), recursive: true);
        return new FuzzReport(target.Name, inputs, rejected, failures, slowest, mostAllocated, peakGrowth, total.Elapsed.TotalSeconds);
    }

    // an input running past 60 s is saved and the process stops: a hang is a failure, not a wait
    private static void Watch()
    {
        long started = Interlocked.Read(ref _inputStarted);
        if (started == 0 || Stopwatch.GetElapsedTime(started).TotalSeconds < 60 || _currentInput is null) return;
        var path = Save(_current ?? "unknown", _currentInput, "hang: over 60 s");
        Environment.FailFast($"fuzz: an input of {_current} ran past 60 s; saved as {path}");
    }

    /// <summary>Saves a failing input under SHARPGRAD_FUZZ_FINDINGS (or the temp folder); returns a line naming it.</summary>
    private static string Save(string target, byte[] input, string what)
    {
        var root = Environment.GetEnvironmentVariable("SHARPGRAD_FUZZ_FINDINGS") ?? Path.Combine(Path.GetTempPath(), "sharpgrad-fuzz-findings");
        var dir = Path.Combine(root, target);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, Convert.ToHexString(SHA256.HashData(input))[..16].ToLowerInvariant() + ".bin");
        File.WriteAllBytes(path, input);
        File.WriteAllText(path + ".txt", what + Environment.NewLine);
        return $"{path}: {what}";
    }

    private static void ResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    // a /proc/self/status field in bytes
    private static long Status(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }
}
