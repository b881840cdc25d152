
namespace Sharpgrad.NN;

/// <summary>Resolves the --data choices: fashion-mnist (bundled), mnist-idx DIR, cifar10 DIR, folder DIR.</summary>
public static class DataSources
{
    /// <summary>The accepted kinds.</summary>
    public static readonly string[] Kinds = ["fashion-mnist", "mnist-idx", "cifar10", "folder"];

    /// <summary>Loads a dataset; <paramref name="dir"/> is required for every kind but fashion-mnist.</summary>
    public static DatasetPair Load(string kind, string? dir, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(kind);
        switch (kind)
        {
            case "fashion-mnist":
                return MnistIdx.Load(dir ?? FindBundledFashionMnist(), "fashion-mnist", MnistIdx.FashionClasses);
            case "mnist-idx":
                return MnistIdx.Load(dir ?? throw new ArgumentException("--data mnist-idx needs a folder: --data mnist-idx DIR."), "mnist-idx");
            case "cifar10":
                return Cifar10.Load(dir ?? throw new ArgumentException("--data cifar10 needs a folder: --data cifar10 DIR."));
            case "folder":
                return ImageFolder.Load(dir ?? throw new ArgumentException("--data folder needs a folder: --data folder DIR."), seed);
            default:
                throw new ArgumentException($"--data: unknown dataset '{kind}'; expected one of {string.Join(", ", Kinds)}.");
        }
    }

    /// <summary>
    /// The repository's data/fashion-mnist folder, searched upwards from the working directory and from the
    /// program's own folder (so the command works from anywhere inside a clone).
    /// </summary>
    public static string FindBundledFashionMnist()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var p = Path.Combine(d.FullName, "data", "fashion-mnist");
                if (File.Exists(Path.Combine(p, "train-images-idx3-ubyte.gz"))) return p;
            }
        throw new DataException("data/fashion-mnist: the bundled dataset was not found above the working directory or the program; load the four IDX files from a folder instead (DataSources.Load(\"mnist-idx\", DIR); on the command line --data mnist-idx DIR).");
    }
}
