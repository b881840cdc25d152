using System.Text.RegularExpressions;
using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>
/// The layering rules that the assemblies cannot show (the namespaces are flat), checked on the sources: training and
/// pruning do not import each other in a circle, and only the command line speaks in flags.
/// </summary>
public sealed partial class LayeringTests
{
    private static string Root()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Sharpgrad.slnx"))) return d.FullName;
        throw new InvalidOperationException("the repository root (Sharpgrad.slnx) was not found above " + AppContext.BaseDirectory);
    }

    private static IEnumerable<string> Sources(string folder) =>
        Directory.EnumerateFiles(Path.Combine(Root(), folder), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}Generated{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    [GeneratedRegex(@"^\s*(?:public|internal|private)?\s*(?:static\s+|sealed\s+|abstract\s+|partial\s+)*(?:class|record|struct|interface|enum)\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex Declaration();

    // a C# string literal's text (regular or interpolated; verbatim strings have no flags here)
    [GeneratedRegex(@"\$?""((?:[^""\\\n]|\\.)*)""")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z0-9-]*")]
    private static partial Regex Flag();

    [Fact]
    public void TrainingDoesNotUsePruning()
    {
        var pruning = Sources("src/Sharpgrad.NN/Pruning").SelectMany(f => Declaration().Matches(File.ReadAllText(f)).Select(m => m.Groups[1].Value)).ToHashSet();
        Assert.Contains("Pruner", pruning);
        var uses = Sources("src/Sharpgrad.NN/Training")
            .SelectMany(f => pruning.Where(t => Regex.IsMatch(CodeOnly(File.ReadAllText(f)), $@"\b{t}\b")).Select(t => $"{Path.GetFileName(f)} uses {t}"))
            .ToList();
        Assert.True(uses.Count == 0, "Training imports Pruning (Pruning builds on Training, not the other way): " + string.Join("; ", uses));
    }

    [Theory]
    [InlineData("src/Sharpgrad")]
    [InlineData("src/Sharpgrad.NN")]
    [InlineData("src/Sharpgrad.Workflows")]
    [InlineData("src/Sharpgrad.Onnx")]
    [InlineData("src/Sharpgrad.Lab")]
    public void OnlyTheCommandLineSpeaksInFlags(string folder)
    {
        var found = Sources(folder)
            .SelectMany(f => CodeOnly(File.ReadAllText(f)).Split('\n').Select((line, i) => (File: f, Line: i + 1, Text: line)))
            .SelectMany(l => StringLiteral().Matches(l.Text).SelectMany(s => Flag().Matches(s.Groups[1].Value))
                .Select(m => $"{Path.GetRelativePath(Root(), l.File)}:{l.Line} {m.Value}"))
            .ToList();
        Assert.True(found.Count == 0, "library messages that name command-line flags (name the option property; the CLI renders it): " + string.Join("; ", found));
    }

    // the source without comments (a doc comment may mention a flag or a type)
    private static string CodeOnly(string source) => Regex.Replace(source, @"^\s*//.*$", "", RegexOptions.Multiline);

    [Fact]
    public void TheFlagFinderFindsAFlag()
    {
        // the checks above would pass on anything if the patterns matched nothing: they match what they look for
        var literal = StringLiteral().Match("throw new ArgumentException($\"--lr: expected a positive number\");");
        Assert.True(literal.Success);
        Assert.Equal("--lr", Flag().Match(literal.Groups[1].Value).Value);
        Assert.DoesNotMatch(Flag(), "a -- b, x--y");
        Assert.Equal("Pruner", Declaration().Match("public static class Pruner\n{").Groups[1].Value);
    }
}
