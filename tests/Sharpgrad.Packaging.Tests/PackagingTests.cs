using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace Sharpgrad.Packaging.Tests;

/// <summary>
/// What a user of the packages gets: `dotnet pack` into a folder, a fresh console project that restores the
/// library from that folder alone and trains with it, and the `sharpgrad` tool installed from that folder training
/// in an empty folder. No network: the other packages (System.Numerics.Tensors, StbImageSharp) come from this
/// machine's global packages folder, used as a second, read-only source, and restore writes to a fresh packages
/// folder so no stale copy of an earlier pack can be picked up.
/// </summary>
public sealed partial class PackagingTests : IDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif
    private static readonly string[] Packed = ["Sharpgrad", "Sharpgrad.NN", "Sharpgrad.Onnx", "Sharpgrad.Cli"];

    private readonly string _root = Directory.CreateTempSubdirectory("sharpgrad-pack-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string P(params string[] parts) => Path.Combine([_root, .. parts]);

    internal static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Sharpgrad.slnx"))) return d.FullName;
        throw new DirectoryNotFoundException("Sharpgrad.slnx above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs a program to its end (at most <paramref name="timeout"/>) and returns its exit code and output.</summary>
    internal static (int Code, string Output) Exec(string file, string args, string workDir, TimeSpan timeout, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // no MSBuild node, build server or compiler server may outlive the command (they would hold its pipes open)
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["UseSharedCompilation"] = "false";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["DOTNET_ROOT"] = DotnetRoot();
        if (env is not null)
            foreach (var (k, v) in env) psi.Environment[k] = v;
        var output = new StringBuilder();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {args}: still running after {timeout.TotalSeconds} s\n{output}");
        }
        p.WaitForExit();
        lock (output) return (p.ExitCode, output.ToString());
    }

    /// <summary>The dotnet that runs these tests (dotnet test sets DOTNET_HOST_PATH for its children).</summary>
    internal static string Dotnet() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>The .NET installation: three folders above the runtime's System.Private.CoreLib.</summary>
    private static string DotnetRoot() => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));

    private static string GlobalPackagesFolder(string workDir)
    {
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set) return set;
        var (code, output) = Exec(Dotnet(), "nuget locals global-packages --list", workDir, TimeSpan.FromMinutes(1));
        Assert.True(code == 0, output);
        return GlobalPackagesLine().Match(output).Groups[1].Value.Trim();
    }

    [GeneratedRegex(@"global-packages:\s*(.+)")]
    private static partial Regex GlobalPackagesLine();

    /// <summary>Packs the four packages into <c>feed</c>; returns their common version.</summary>
    private string Pack()
    {
        var root = RepositoryRoot();
        // a solution of the packed projects only (the tests and the lab are not packages)
        var slnx = P("packed.slnx");
        File.WriteAllText(slnx, "<Solution>\n" + string.Concat(Packed.Select(n =>
            $"  <Project Path=\"{Path.Combine(root, "src", n, n + ".csproj")}\" />\n")) + "</Solution>\n");
        var (code, output) = Exec(Dotnet(), $"pack \"{slnx}\" -c {Configuration} -o \"{P("feed")}\" -nologo", _root, TimeSpan.FromMinutes(5));
        Assert.True(code == 0, output);
        var versions = Packed.Select(n => Directory.GetFiles(P("feed"), n + ".*.nupkg")
            .Select(f => Path.GetFileName(f)[(n.Length + 1)..^".nupkg".Length])
            .Single(v => char.IsDigit(v[0]))).Distinct().ToList();
        Assert.Single(versions);
        return versions[0];
    }

    [Fact]
    public void PackagesInstallAndTrainOffline()
    {
        var version = Pack();
        Assert.Matches(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$", version);

        // metadata a package page shows: readme, licence, authors, repository; the libraries carry XML docs and symbols
        foreach (var name in Packed)
        {
            using var zip = ZipFile.OpenRead(P("feed", $"{name}.{version}.nupkg"));
            var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
            string Field(string field) => nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == field)?.Value ?? "";
            Assert.Equal("README.md", Field("readme"));
            Assert.Equal("MIT", Field("license"));
            Assert.False(string.IsNullOrWhiteSpace(Field("authors")), name);
            Assert.NotNull(nuspec.Descendants().FirstOrDefault(e => e.Name.LocalName == "repository")?.Attribute("url"));
            Assert.Contains(zip.Entries, e => e.FullName == "README.md");
            if (name != "Sharpgrad.Cli")
            {
                Assert.Contains(zip.Entries, e => e.FullName == $"lib/net10.0/{name}.xml");
                Assert.True(File.Exists(P("feed", $"{name}.{version}.snupkg")), name + " symbols");
            }
        }

        // the tool carries one platform's native libraries and the dataset, nothing for the other 16 platforms
        using (var tool = ZipFile.OpenRead(P("feed", $"Sharpgrad.Cli.{version}.nupkg")))
        {
            var natives = tool.Entries.Where(e => e.FullName.Contains("/runtimes/", StringComparison.Ordinal)).Select(e => e.FullName).ToList();
            Assert.All(natives, n => Assert.Contains("/runtimes/linux-x64/", n));
            Assert.Contains(tool.Entries, e => e.FullName.EndsWith("data/fashion-mnist/train-images-idx3-ubyte.gz", StringComparison.Ordinal));
            Assert.DoesNotContain(tool.Entries, e => e.Name.Contains("Torch", StringComparison.OrdinalIgnoreCase) || e.Name.Contains("onnxruntime", StringComparison.OrdinalIgnoreCase));
        }
        long toolBytes = new FileInfo(P("feed", $"Sharpgrad.Cli.{version}.nupkg")).Length;
        Assert.True(toolBytes < 45_000_000, $"the tool package is {toolBytes:N0} bytes");

        // a fresh console project that restores Sharpgrad* from the feed alone, everything else from this machine
        var cache = GlobalPackagesFolder(_root);
        Directory.CreateDirectory(P("app"));
        File.WriteAllText(P("app", "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{P("packages")}" /></config>
              <packageSources>
                <clear />
                <add key="sharpgrad" value="{P("feed")}" />
                <add key="machine" value="{cache}" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="sharpgrad"><package pattern="Sharpgrad*" /></packageSource>
                <packageSource key="machine"><package pattern="*" /></packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        File.WriteAllText(P("app", "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <NuGetAudit>false</NuGetAudit>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Sharpgrad.NN" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(P("app", "Program.cs"), """
            using Sharpgrad;
            using Sharpgrad.NN;

            // two Gaussian blobs in 2-D, 400 points, labels 0 and 1
            var gen = new Generator(7);
            var x = Tensor.Randn([400, 2], gen);
            var labels = new int[400];
            for (int i = 0; i < 400; i++)
            {
                labels[i] = i % 2;
                x[i, 0] += labels[i] == 1 ? 2f : -2f;
            }
            var data = new TensorDataset(x, labels, classes: 2);
            var trainer = new ModuleTrainer(g => new Sequential(new Linear(2, 16, generator: g), new ReLU(), new Linear(16, 2, generator: g)),
                data, data, new ModuleTrainerOptions { Epochs = 3, BatchSize = 32, LearningRate = 0.05 });
            var result = trainer.Fit();
            var path = Path.Combine(Path.GetTempPath(), $"app-{Environment.ProcessId}.safetensors");
            SafeTensors.Write(path, trainer.Model.StateDict());
            var again = new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 2));
            again.LoadStateDict(SafeTensors.Read(path).Tensors);
            File.Delete(path);
            Console.WriteLine($"accuracy {result.Metrics[^1].TestAccuracy:F3} reloaded {trainer.Evaluate(data).Accuracy:F3}");
            """);
        var offline = new Dictionary<string, string> { ["NUGET_PACKAGES"] = P("packages") };
        var (code, output) = Exec(Dotnet(), "run -c Release", P("app"), TimeSpan.FromMinutes(4), offline);
        Assert.True(code == 0, output);
        var m = Regex.Match(output, @"accuracy (\d\.\d+) reloaded (\d\.\d+)");
        Assert.True(m.Success, output);
        Assert.True(double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0.9, output);
        // the library came from the feed, not from a project reference or an older copy
        Assert.True(File.Exists(P("packages", "sharpgrad.nn", version, $"sharpgrad.nn.{version}.nupkg")));

        // the tool, installed from the feed alone, trains in an empty folder
        File.WriteAllText(P("tool.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="sharpgrad" value="{P("feed")}" />
              </packageSources>
            </configuration>
            """);
        (code, output) = Exec(Dotnet(), $"tool install Sharpgrad.Cli --version {version} --tool-path \"{P("tools")}\" --configfile \"{P("tool.config")}\"", _root, TimeSpan.FromMinutes(2), offline);
        Assert.True(code == 0, output);
        var sharpgrad = P("tools", "sharpgrad");
        (code, output) = Exec(sharpgrad, "--help", _root, TimeSpan.FromMinutes(1));
        Assert.True(code == 0, output);
        Assert.Contains("sharpgrad [command] [options]", output);
        Assert.DoesNotContain("Sharpgrad.Cli", output);

        Directory.CreateDirectory(P("empty"));
        (code, output) = Exec(sharpgrad, "train --epochs 1 --limit 256 --test-limit 256 --batch-size 64", P("empty"), TimeSpan.FromMinutes(3));
        Assert.True(code == 0, output);
        Assert.Contains("on fashion-mnist (256 training, 256 test images", output);
        Assert.Contains("epoch 1/1  train loss", output);
        var run = Assert.Single(Directory.GetDirectories(P("empty", "runs")));
        foreach (var f in new[] { "model.safetensors", "model.json", "confusion.png" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
    }
}
