using StbImageSharp;

namespace Sharpgrad.NN;

/// <summary>
/// Images in folders, one subfolder per class (PNG or JPEG, decoded by StbImageSharp). A folder with train/ and
/// test/ subfolders gives both sets; otherwise a seeded 20% of the images becomes the test set. Every image must
/// have the size and channel count of the first; width, height and file size are checked before decoding.
/// </summary>
public static class ImageFolder
{
    /// <summary>Largest accepted file, in bytes.</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>Largest accepted width or height, in pixels.</summary>
    public const int MaxSide = 4096;

    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];

    /// <summary>Loads a folder as train and test sets.</summary>
    public static DatasetPair Load(string dir, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir)) throw new DataException($"{dir}: image folder not found (expected one subfolder per class).");
        string train = Path.Combine(dir, "train"), test = Path.Combine(dir, "test");
        if (Directory.Exists(train) && Directory.Exists(test))
        {
            var tr = LoadClasses(train, null);
            return new DatasetPair("folder", tr, LoadClasses(test, tr.ClassNames));
        }
        var all = LoadClasses(dir, null);
        var (t, v) = all.Split(0.2, seed);
        return new DatasetPair("folder", t, v);
    }

    /// <summary>Loads one folder of class subfolders; <paramref name="classNames"/> fixes the label order when given.</summary>
    public static ImageDataset LoadClasses(string dir, IReadOnlyList<string>? classNames)
    {
        var classes = classNames ?? Directory.GetDirectories(dir).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        if (classes.Count < 2) throw new DataException($"{dir}: expected at least two class subfolders, found {classes.Count}.");
        var pixels = new List<byte>();
        var labels = new List<int>();
        int c = 0, h = 0, w = 0;
        string? first = null;
        for (int label = 0; label < classes.Count; label++)
        {
            var sub = Path.Combine(dir, classes[label]);
            if (!Directory.Exists(sub)) throw new DataException($"{sub}: class folder not found (the training set has class '{classes[label]}').");
            var files = Directory.GetFiles(sub).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal).ToArray();
            foreach (var file in files)
            {
                var img = Decode(file);
                if (first is null)
                {
                    (c, h, w, first) = (img.C, img.H, img.W, file);
                }
                else if (img.C != c || img.H != h || img.W != w)
                {
                    throw new DataException($"{file}: image is {img.C}x{img.H}x{img.W} but {first} is {c}x{h}x{w}; all images must have the same size and channels.");
                }
                pixels.AddRange(img.Pixels);
                labels.Add(label);
            }
        }
        if (labels.Count == 0) throw new DataException($"{dir}: no PNG or JPEG images found in the class folders.");
        return new ImageDataset([.. pixels], [.. labels], c, h, w, classes, dir);
    }

    /// <summary>Decodes one image to channel-major bytes (C, H, W); grey images stay 1 channel, others become RGB.</summary>
    public static (int C, int H, int W, byte[] Pixels) Decode(string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var info = new FileInfo(file);
        if (info.Length > MaxFileBytes) throw new DataException($"{file}: file is {info.Length} bytes, more than the {MaxFileBytes} allowed.");
        try
        {
            using (var s = File.OpenRead(file))
            {
                var header = ImageInfo.FromStream(s) ?? throw new DataException($"{file}: not a PNG or JPEG image the decoder recognizes.");
                if (header.Width < 1 || header.Height < 1 || header.Width > MaxSide || header.Height > MaxSide)
                    throw new DataException($"{file}: image is {header.Width}x{header.Height}; expected sides from 1 to {MaxSide} pixels.");
            }
            using var stream = File.OpenRead(file);
            var probe = ImageInfo.FromStream(stream)!.Value;
            stream.Position = 0;
            bool grey = probe.ColorComponents is ColorComponents.Grey or ColorComponents.GreyAlpha;
            var img = ImageResult.FromStream(stream, grey ? ColorComponents.Grey : ColorComponents.RedGreenBlue);
            int c = grey ? 1 : 3, plane = img.Width * img.Height;
            var chw = new byte[c * plane];
            for (int k = 0; k < plane; k++)
                for (int ch = 0; ch < c; ch++) chw[ch * plane + k] = img.Data[k * c + ch];
            return (c, img.Height, img.Width, chw);
        }
        catch (Exception e) when (e is not DataException and (InvalidOperationException or IOException or ArgumentException or IndexOutOfRangeException or NotSupportedException))
        {
            throw new DataException($"{file}: image will not decode ({e.Message}).", e);
        }
    }
}
