using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using Sharpgrad.NN;
using Sharpgrad.Workflows;
using Spectre.Console;

namespace Sharpgrad.Cli;

/// <summary>The `sharpgrad` command: summary, train, eval.</summary>
internal static class SharpgradCli
{
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        // named `sharpgrad` whatever the executable (Sharpgrad.Cli.dll under `dotnet`, the tool's shim, a test host)
        var root = new Command("sharpgrad", "Sharpgrad: build, train and inspect the exam CNN in pure .NET.") { new HelpOption(), new VersionOption() };
        root.Subcommands.Add(SummaryCommand());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(PruneCommand.Create());
        root.Subcommands.Add(InspectCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(LabCommand.Create());
        var config = new InvocationConfiguration();
        if (output is not null) config.Output = output;
        if (error is not null) config.Error = error;
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && parsed.Action is not HelpAction)
        {
            (error ?? Console.Error).WriteLine("error: " + ParseErrors.Describe(parsed));
            return 2;
        }
        // an empty word ('' or "") is never a value: System.CommandLine would pass it on to File and Directory calls
        if (ParseErrors.EmptyValue(parsed) is { } empty)
        {
            (error ?? Console.Error).WriteLine("error: " + empty);
            return 2;
        }
        return parsed.Invoke(config);
    }

    /// <summary>Runs <paramref name="body"/>, turning bad input into one line on stderr and exit code 2.</summary>
    internal static int Guard(TextWriter error, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is DataException or ArgumentException or FormatException or DivergedException or InvalidOperationException)
        {
            // .NET appends " (Parameter 'x')" to argument exceptions: the message already names the option
            error.WriteLine("error: " + System.Text.RegularExpressions.Regex.Replace(Flags.Message(e), @" \(Parameter '[^']*'\)$", ""));
            return 2;
        }
    }

    private static Command SummaryCommand()
    {
        var input = new Option<string>("--input") { Description = "Input shape CxHxW (3x32x32 is the exam's CIFAR-10 network, 1x28x28 Fashion-MNIST).", DefaultValueFactory = _ => "3x32x32" };
        var model = new Option<string>("--model") { Description = $"{string.Join(" | ", Models.Names)} (default exam-cnn), or a model file.", DefaultValueFactory = _ => "exam-cnn" };
        var classes = new Option<int>("--classes") { Description = "Outputs of a built-in model.", DefaultValueFactory = _ => 10 };
        var cmd = new Command("summary", "Print a model's per-layer table (the exam's Q10 for the exam CNN): output shapes, parameters with their arithmetic, MACs and totals.") { model, input, classes };
        cmd.SetAction(r => Guard(r.InvocationConfiguration.Error, () =>
        {
            var (c, h, w) = ExamCnn.ParseShape(r.GetValue(input)!);
            string name = r.GetValue(model)!;
            int k = r.GetValue(classes);
            if (k < 2) throw new ArgumentException($"--classes: expected at least 2, got {k}.");
            var built = Models.Names.Contains(name) ? BuiltIn(name, c, h, w, k)
                : File.Exists(name) ? ModelSpec.Load(name)
                : throw new ArgumentException($"--model: '{name}' is neither a built-in model ({string.Join(", ", Models.Names)}) nor a model file.");
            ModelSummary s;
            try
            {
                s = ModelSummary.Create(built, [c, h, w]);
            }
            catch (ArgumentException e) when (!Models.Names.Contains(name) && e.Message.StartsWith("Summary: ", StringComparison.Ordinal))
            {
                // a model file that does not take the input: name the file and the --input, as train names the file and the data
                bool typed = r.GetResult(input) is { Implicit: false };
                throw new ArgumentException($"--model: {name} does not take {(typed ? "" : "the default ")}--input {c}x{h}x{w}{(typed ? "" : " (pass --input CxHxW with the shape it takes, e.g. 1x28x28)")}: {e.Message["Summary: ".Length..]}", e);
            }
            r.InvocationConfiguration.Output.Write(s.ToText());
            return 0;
        }));
        return cmd;
    }

    // a built-in model for summary, its construction errors prefixed with the options that chose it (a --classes in
    // the billions fails inside a Linear layer's tensor, which would otherwise be all the message names)
    private static Module BuiltIn(string name, int c, int h, int w, int classes)
    {
        try
        {
            return Models.Create(name, c, h, w, classes);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"--model {name} --input {c}x{h}x{w} --classes {classes}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The run folder a --checkpoint value names: the folder itself, or the folder of a file in it (model.json,
    /// model.safetensors, checkpoint.safetensors); any other file gets one line saying what to pass.
    /// </summary>
    internal static string RunFolder(string path)
    {
        if (!File.Exists(path)) return path; // a folder, or nothing: RunFiles.Load names what is missing
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (File.Exists(Path.Combine(dir, RunFiles.ModelJson))) return dir;
        if (File.Exists(Path.Combine(dir, RunFiles.Checkpoint)))
            throw new ArgumentException($"--checkpoint: {path} is in an unfinished run ({RunFiles.Checkpoint} without {RunFiles.ModelJson}, which is written last); finish it with sharpgrad train --resume {dir}, then pass that folder.");
        throw new ArgumentException($"--checkpoint: {path} is a file, and its folder holds no {RunFiles.ModelJson}; pass the run folder that sharpgrad train wrote (the one with {RunFiles.ModelJson} and {RunFiles.Weights}), e.g. --checkpoint runs/fashion-mnist-20260101-120000.");
    }

    internal static string Percent(double v) => (v * 100).ToString("F2", CultureInfo.InvariantCulture) + "%";

    /// <summary>A Spectre console that writes to <paramref name="writer"/>, interactive only on a real terminal.</summary>
    internal static IAnsiConsole ConsoleFor(TextWriter writer)
    {
        bool terminal = ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal) console.Profile.Width = 160; // files and pipes: wide enough for the confusion matrix
        return console;
    }
}
