using System.Globalization;

namespace Sharpgrad.Bench;

/// <summary>Command-line reading shared by the bench's modes; every mistake is an ArgumentException of one line (exit 2).</summary>
internal static class BenchOptions
{
    /// <summary>The word after args[i] (advancing i), or an error naming the option.</summary>
    public static string Value(string[] args, ref int i) =>
        i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i]
            : throw new ArgumentException($"{args[i]}: expected a value after it");

    /// <summary>A positive whole number, or an error naming the option.</summary>
    public static int Positive(string option, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0
            ? v : throw new ArgumentException($"{option}: expected a positive whole number, got '{text}'");

    /// <summary>
    /// --threads: 1 to 256 (ONNX Runtime and TorchSharp start that many threads each, and 100,000 ran for minutes
    /// without printing anything), or an error naming the option.
    /// </summary>
    public static int Threads(string text)
    {
        int n = Positive("--threads", text);
        return n <= 256 ? n : throw new ArgumentException($"--threads: expected 1 to 256 (this machine has {Environment.ProcessorCount} cores), got {n}");
    }

    /// <summary>Fails before any figure is measured when <paramref name="path"/>'s folder does not exist.</summary>
    public static void CheckOutput(string? path)
    {
        if (path is null) return;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) throw new ArgumentException($"--json: folder {dir} does not exist");
    }

    /// <summary>--ort-api binding|run|both: how <see cref="OrtRunner"/> calls ONNX Runtime.</summary>
    public static void OrtApi(string text)
    {
        OrtRunner.UseBinding = text switch
        {
            "binding" or "both" => true,
            "run" => false,
            _ => throw new ArgumentException($"--ort-api: expected binding (a pre-bound IOBinding), run (Run with pre-made OrtValues) or both, got '{text}'"),
        };
        OrtRunner.CompareApis = text == "both";
    }
}
