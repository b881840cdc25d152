using Xunit;

namespace Sharpgrad.Packaging.Tests;

/// <summary>The examples/ programs run to their end and reach what they check (each returns 0 only then).</summary>
public sealed class ExamplesTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Theory]
    [InlineData("LogisticRegression", "training accuracy")]
    [InlineData("Mlp", "reloaded: test accuracy")]
    [InlineData("Cnn", "test accuracy")]
    [InlineData("CustomModule", "model.json rebuilds a model")]
    public void ExampleRuns(string name, string lastWords)
    {
        var dll = Path.Combine(PackagingTests.RepositoryRoot(), "examples", name, "bin", Configuration, "net10.0", name + ".dll");
        Assert.True(File.Exists(dll), dll + " (built through this project's references)");
        var (code, output) = PackagingTests.Exec(PackagingTests.Dotnet(), $"\"{dll}\"", Path.GetTempPath(), TimeSpan.FromMinutes(3));
        Assert.True(code == 0, output);
        Assert.Contains(lastWords, output);
    }

    /// <summary>The README's library example is examples/Mlp's marked part, and its package lines name the packed version.</summary>
    [Fact]
    public void ReadmeShowsTheMlpExampleAndThePackageVersion()
    {
        var root = PackagingTests.RepositoryRoot();
        var lines = File.ReadAllLines(Path.Combine(root, "examples", "Mlp", "Program.cs"));
        int b = Array.FindIndex(lines, l => l.Trim() == "// README-LIBRARY-BEGIN");
        int e = Array.FindIndex(lines, l => l.Trim() == "// README-LIBRARY-END");
        Assert.True(b >= 0 && e > b);
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n");
        Assert.Contains("using Sharpgrad;\nusing Sharpgrad.NN;\n\n" + string.Join("\n", lines[(b + 1)..e]) + "\n```", readme);
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(root, "Directory.Build.props"));
        var version = props.Descendants("VersionPrefix").Single().Value;
        foreach (var package in new[] { "Sharpgrad", "Sharpgrad.NN" })
            Assert.Contains($"<PackageReference Include=\"{package}\" Version=\"{version}\" />", readme);
    }
}
