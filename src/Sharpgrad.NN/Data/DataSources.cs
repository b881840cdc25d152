
namespace Sharpgrad.NN;

/// <summary>Datasets by name: fashion-mnist (bundled), mnist-idx, cifar10 and folder (each of the last three from a folder).</summary>
public static class DataSources
{
    /// <summary>The accepted kinds.</summary>
    public static readonly string[] Kinds = ["fashion-mnist", "mnist-idx", "cifar10", "folder"];

    /// <summary>Loads a dataset; <paramref name="dir"/> is required for every kind but fashion-mnist.</summary>
    /// <exception cref="ArgumentException">An unknown kind, or no folder for a kind that needs one.</exception>
    /// <exception cref="DataException">The files are missing or malformed (one line naming the file).</exception>
    public static DatasetPair Load(string kind, string? dir, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(kind);
        switch (kind)
        {
            case "fashion-mnist":
                return MnistIdx.Load(dir ?? FindBundledFashionMnist(), "fashion-mnist", MnistIdx.FashionClasses);
            case "mnist-idx":
                return MnistIdx.Load(dir ?? throw new ArgumentException("DataSources.Load: mnist-idx needs a folder (dir).", nameof(dir)), "mnist-idx");
            case "cifar10":
                return Cifar10.Load(dir ?? throw new ArgumentException("DataSources.Load: cifar10 needs a folder (dir).", nameof(dir)));
            case "folder":
                return ImageFolder.Load(dir ?? throw new ArgumentException("DataSources.Load: folder needs a folder (dir).", nameof(dir)), seed);
            default:
                throw new ArgumentException($"DataSources.Load: unknown dataset '{kind}'; expected one of {string.Join(", ", Kinds)}.", nameof(kind));
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
        throw new DataException("data/fashion-mnist: the bundled dataset was not found above the working directory or the program; load the four IDX files from a folder instead (DataSources.Load(\"mnist-idx\", DIR)).");
    }
}
