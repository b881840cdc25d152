using Sharpgrad.NN;

namespace Sharpgrad.Lab;

/// <summary>
/// One exam question as a seeded experiment. Implementations are found by reflection (public sealed classes with a
/// parameterless constructor in this assembly), ordered by <see cref="Number"/>.
/// </summary>
public abstract class LabExperiment
{
    /// <summary>The exam question's number, 1..10; the id is "q" + number.</summary>
    public abstract int Number { get; }

    /// <summary>"q1" .. "q10".</summary>
    public string Id => "q" + Number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A short title, e.g. "Vanishing gradients".</summary>
    public abstract string Title { get; }

    /// <summary>The question as ../shared/EXAM.md restates it.</summary>
    public abstract string Question { get; }

    /// <summary>The exam's correct answer.</summary>
    public abstract string Answer { get; }

    /// <summary>Runs the experiment: writes its PNG plots under <see cref="LabContext.OutDir"/> and returns what it measured.</summary>
    public abstract LabResult Run(LabContext context);
}

/// <summary>What an experiment gets: where to write, how long it may take, the seed and the data.</summary>
public sealed class LabContext
{
    /// <summary>The report folder; plots are written here as "{id}-{name}.png".</summary>
    public required string OutDir { get; init; }

    /// <summary>The short version (at most about 10 s on 2 cores) for tests; otherwise at most about 60 s.</summary>
    public bool Quick { get; init; }

    /// <summary>The seed every random choice derives from.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The Fashion-MNIST folder (IDX files); null finds the bundled copy.</summary>
    public string? DataDir { get; init; }

    /// <summary>Progress lines ("q2: training with dropout, epoch 3/8"); the CLI renders them.</summary>
    public IProgress<string>? Progress { get; init; }

    /// <summary>Stops a long experiment between steps.</summary>
    public CancellationToken Cancellation { get; init; }

    private DatasetPair? _fashion;

    /// <summary>Fashion-MNIST, loaded once per lab run and shared by the experiments.</summary>
    public DatasetPair FashionMnist => _fashion ??= DataSources.Load("fashion-mnist", DataDir);

    /// <summary>Reports a progress line.</summary>
    public void Report(string line) => Progress?.Report(line);

    /// <summary>The same context writing to <paramref name="outDir"/>, sharing the loaded data.</summary>
    public LabContext WithOutDir(string outDir) => new()
    {
        OutDir = outDir,
        Quick = Quick,
        Seed = Seed,
        DataDir = DataDir,
        Progress = Progress,
        Cancellation = Cancellation,
        _fashion = _fashion,
    };

    /// <summary>The full path of a plot file of <paramref name="experiment"/>, "{OutDir}/{id}-{name}.png", and its name relative to <see cref="OutDir"/>.</summary>
    public (string Path, string File) PlotFile(LabExperiment experiment, string name)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        var file = experiment.Id + "-" + name + ".png";
        return (System.IO.Path.Combine(OutDir, file), file);
    }
}

/// <summary>What an experiment measured: numbers, plots, checks against the exam's answer, and what they show.</summary>
public sealed class LabResult
{
    /// <summary>Named measurements, in the order they are shown (written to {id}.json).</summary>
    public List<KeyValuePair<string, double>> Numbers { get; } = [];

    /// <summary>Tables shown on the page (e.g. the Q10 summary, a confusion matrix).</summary>
    public List<LabTable> Tables { get; } = [];

    /// <summary>Plots written under the report folder (file name relative to it, with a caption).</summary>
    public List<LabPlot> Plots { get; } = [];

    /// <summary>The exam's answer as checks on the measurements; the test of `lab all --quick` requires all to pass.</summary>
    public List<LabCheck> Checks { get; } = [];

    /// <summary>One or two sentences on what the numbers show.</summary>
    public List<string> Findings { get; } = [];

    /// <summary>Seconds the experiment took (set by the runner).</summary>
    public double Seconds { get; set; }

    /// <summary>Adds a named number.</summary>
    public void Add(string name, double value) => Numbers.Add(new(name, value));

    /// <summary>Adds a check: <paramref name="passed"/> says whether <paramref name="measured"/> agrees with <paramref name="expected"/>.</summary>
    public void Check(string name, string expected, string measured, bool passed) => Checks.Add(new LabCheck(name, expected, measured, passed));
}

/// <summary>A plot file (PNG, relative to the report folder) and its caption.</summary>
public sealed record LabPlot(string File, string Caption);

/// <summary>A check of a measurement against the exam's answer.</summary>
public sealed record LabCheck(string Name, string Expected, string Measured, bool Passed);

/// <summary>A small table: a header row and string cells.</summary>
public sealed record LabTable(string Caption, IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyList<string>> Rows);
