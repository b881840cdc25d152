using Sharpgrad.Cli;
using Xunit;

namespace Sharpgrad.Lab.Tests;

/// <summary>One `sharpgrad lab all --quick` through the command line, shared by the report tests.</summary>
public sealed class QuickLabRun : IDisposable
{
    public QuickLabRun()
    {
        Root = Path.Combine(Path.GetTempPath(), "sharpgrad-lab-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        OutDir = Path.Combine(Root, "report");
        var o = new StringWriter();
        var e = new StringWriter();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Code = SharpgradCli.Run(["lab", "all", "--quick", "--out", OutDir], o, e);
        Seconds = sw.Elapsed.TotalSeconds;
        Out = o.ToString();
        Err = e.ToString();
    }

    public string Root { get; }

    public string OutDir { get; }

    public int Code { get; }

    public string Out { get; }

    public string Err { get; }

    public double Seconds { get; }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

[CollectionDefinition("lab")]
public sealed class LabCollection : ICollectionFixture<QuickLabRun>;
