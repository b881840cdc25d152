using StbImageSharp;

namespace Sharpgrad.NN;

/// <summary>
/// Images in folders, one subfolder per class (PNG, JPEG or BMP, checked by structure and then decoded by
/// StbImageSharp). A folder with train/ and test/ (or val/) subfolders gives both sets; otherwise a seeded 20% of
/// the images becomes the test set. Hidden and system entries (names starting with '.', __MACOSX, Thumbs.db,
/// desktop.ini) are ignored; an empty class folder, a subfolder inside a class folder, a file that is not an image
/// in a class folder, a loose file beside the class folders and a test class that training lacks are errors naming
/// them. Every image must have the size and channel count of the first; a JPEG's EXIF orientation is applied, so
/// the image is the one a viewer shows.
/// </summary>
public static class ImageFolder
{
    /// <summary>Largest accepted file, in bytes.</summary>
    public const long MaxFileBytes = 64L << 20;

    /// <summary>Largest accepted width or height, in pixels.</summary>
    public const int MaxSide = 4096;

    /// <summary>Largest accepted width times height (2^22, e.g. 2048x2048): bounds the decoder's time and memory.</summary>
    public const long MaxPixels = 1L << 22;

    /// <summary>The file name extensions read as images (case-insensitive).</summary>
    public static readonly IReadOnlyList<string> Extensions = [".png", ".jpg", ".jpeg", ".bmp"];

    private static readonly string[] SystemNames = ["__MACOSX", "Thumbs.db", "desktop.ini", "$RECYCLE.BIN", "System Volume Information"];

    /// <summary>Whether a folder entry is hidden or a system entry that is never data (dotfiles, __MACOSX, Thumbs.db, ...).</summary>
    public static bool IsIgnored(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.StartsWith('.') || SystemNames.Contains(name, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Loads a folder as train and test sets.</summary>
    /// <exception cref="DataException">The folder's layout or an image is not usable (the message names it).</exception>
    public static DatasetPair Load(string dir, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(dir);
        if (!Directory.Exists(dir)) throw new DataException($"{dir}: image folder not found (expected one subfolder per class).");
        string train = Path.Combine(dir, "train"), test = Path.Combine(dir, "test"), val = Path.Combine(dir, "val");
        bool hasTrain = Directory.Exists(train), hasTest = Directory.Exists(test), hasVal = Directory.Exists(val);
        if (hasTrain || hasTest || hasVal)
        {
            if (!hasTrain) throw new DataException($"{dir}: has {(hasTest ? "test/" : "val/")} but no train/ folder (expected train/ and test/ or val/, each with one subfolder per class).");
            if (hasTest && hasVal) throw new DataException($"{dir}: has both test/ and val/; keep one as the test split.");
            if (!hasTest && !hasVal) throw new DataException($"{dir}: has train/ but no test/ or val/ folder beside it.");
            var extra = Visible(Directory.GetFileSystemEntries(dir)).Where(p => Path.GetFileName(p) is not ("train" or "test" or "val")).ToArray();
            if (extra.Length > 0) throw new DataException($"{dir}: unexpected {Describe(extra)} beside train/ and {(hasTest ? "test/" : "val/")}.");
            var tr = LoadClasses(train, null);
            return new DatasetPair("folder", tr, LoadClasses(hasTest ? test : val, tr.ClassNames));
        }
        var all = LoadClasses(dir, null);
        var (t, v) = all.Split(0.2, seed);
        if (t.Count == 0 || v.Count == 0)
            throw new DataException($"{dir}: {all.Count} images are too few for a 80/20 split into training and test images (add images, or give train/ and test/ folders).");
        return new DatasetPair("folder", t, v);
    }

    private static IEnumerable<string> Visible(IEnumerable<string> paths) => paths.Where(p => !IsIgnored(Path.GetFileName(p)));

    private static string Describe(string[] paths) =>
        (paths.Length == 1 ? "entry " : $"{paths.Length} entries, e.g. ") + string.Join(", ", paths.Take(3).Select(Path.GetFileName));

    /// <summary>Loads one folder of class subfolders; <paramref name="classNames"/> fixes the label order when given.</summary>
    /// <exception cref="DataException">The folder's layout or an image is not usable (the message names it).</exception>
    public static ImageDataset LoadClasses(string dir, IReadOnlyList<string>? classNames)
    {
        ArgumentNullException.ThrowIfNull(dir);
        var loose = Visible(Directory.GetFiles(dir)).Order(StringComparer.Ordinal).ToArray();
        if (loose.Length > 0)
            throw new DataException($"{dir}: loose files beside the class folders ({string.Join(", ", loose.Take(3).Select(Path.GetFileName))}{(loose.Length > 3 ? ", ..." : "")}); put each image in its class's subfolder.");
        var found = Visible(Directory.GetDirectories(dir)).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToArray();
        if (classNames is not null)
        {
            var unknown = found.Except(classNames, StringComparer.Ordinal).ToArray();
            if (unknown.Length > 0)
                throw new DataException($"{dir}: class folder{(unknown.Length > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{u}'"))} {(unknown.Length > 1 ? "are" : "is")} not among the training classes ({string.Join(", ", classNames)}).");
        }
        var classes = classNames ?? found;
        if (classes.Count < 2) throw new DataException($"{dir}: expected at least two class subfolders, found {classes.Count}.");
        var pixels = new List<byte>();
        var labels = new List<int>();
        int c = 0, h = 0, w = 0;
        string? first = null;
        for (int label = 0; label < classes.Count; label++)
        {
            var sub = Path.Combine(dir, classes[label]);
            if (!Directory.Exists(sub)) throw new DataException($"{sub}: class folder not found (the training set has class '{classes[label]}').");
            var nested = Visible(Directory.GetDirectories(sub)).Order(StringComparer.Ordinal).ToArray();
            if (nested.Length > 0)
                throw new DataException($"{sub}: subfolder {Path.GetFileName(nested[0])}/ inside a class folder; images must sit directly in their class folder.");
            var entries = Visible(Directory.GetFiles(sub)).Order(StringComparer.Ordinal).ToArray();
            var other = entries.Where(f => !Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).ToArray();
            if (other.Length > 0)
                throw new DataException($"{other[0]}: not a {string.Join(", ", Extensions)} file{(other.Length > 1 ? $" (and {other.Length - 1} more in {sub})" : "")}; class folders hold only images.");
            if (entries.Length == 0) throw new DataException($"{sub}: class folder '{classes[label]}' holds no images.");
            foreach (var file in entries)
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
        return new ImageDataset([.. pixels], [.. labels], c, h, w, classes, dir);
    }

    /// <summary>
    /// Decodes one image to channel-major bytes (C, H, W) as a viewer shows it (EXIF orientation applied); grey
    /// images stay 1 channel, others become RGB. The file's structure is checked before it is decoded.
    /// </summary>
    /// <exception cref="DataException">The file is missing, too large, truncated, corrupt or not a PNG, JPEG or BMP.</exception>
    public static (int C, int H, int W, byte[] Pixels) Decode(string file)
    {
        ArgumentNullException.ThrowIfNull(file);
        byte[] bytes;
        try
        {
            var info = new FileInfo(file);
            if (info.Length > MaxFileBytes) throw new DataException($"{file}: file is {info.Length} bytes, more than the {MaxFileBytes} allowed.");
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataException($"{file}: cannot read ({e.Message}).", e);
        }
        return Decode(bytes, file);
    }

    /// <summary>Decodes an image held in memory (<see cref="Decode(string)"/>); <paramref name="name"/> names it in messages.</summary>
    /// <exception cref="DataException">The bytes are too many, truncated, corrupt or not a PNG, JPEG or BMP.</exception>
    public static (int C, int H, int W, byte[] Pixels) Decode(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(name);
        if (bytes.Length > MaxFileBytes) throw new DataException($"{name}: file is {bytes.Length} bytes, more than the {MaxFileBytes} allowed.");
        var header = ImageCheck.Check(bytes, name);
        ImageResult img;
        try
        {
            img = ImageResult.FromMemory(bytes, header.Grey ? ColorComponents.Grey : ColorComponents.RedGreenBlue);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or NotSupportedException or OverflowException or InvalidDataException)
        {
            throw new DataException($"{name}: {header.Format} image will not decode ({e.Message}).", e);
        }
        if (img.Width != header.Width || img.Height != header.Height)
            throw new DataException($"{name}: {header.Format} decoded to {img.Width}x{img.Height}, but its header says {header.Width}x{header.Height}.");
        int c = header.Grey ? 1 : 3;
        var (oh, ow, chw) = Orient(img.Data, c, img.Height, img.Width, header.Orientation);
        return (c, oh, ow, chw);
    }

    /// <summary>
    /// Interleaved HWC pixels to channel-major CHW as displayed under EXIF orientation <paramref name="orientation"/>
    /// (1: as stored; 2: mirrored; 3: rotated 180; 4: flipped; 5: transposed; 6: rotated 90 clockwise; 7: transversed;
    /// 8: rotated 90 counter-clockwise; the TIFF 6.0 / EXIF 2.3 definitions, as PIL's ImageOps.exif_transpose).
    /// </summary>
    internal static (int H, int W, byte[] Chw) Orient(byte[] hwc, int c, int h, int w, int orientation)
    {
        bool swap = orientation >= 5;
        int oh = swap ? w : h, ow = swap ? h : w, plane = h * w;
        var chw = new byte[c * plane];
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
            {
                var (sx, sy) = orientation switch
                {
                    2 => (w - 1 - ox, oy),
                    3 => (w - 1 - ox, h - 1 - oy),
                    4 => (ox, h - 1 - oy),
                    5 => (oy, ox),
                    6 => (oy, h - 1 - ox),
                    7 => (w - 1 - oy, h - 1 - ox),
                    8 => (w - 1 - oy, ox),
                    _ => (ox, oy),
                };
                int src = (sy * w + sx) * c, dst = oy * ow + ox;
                for (int ch = 0; ch < c; ch++) chw[ch * plane + dst] = hwc[src + ch];
            }
        return (oh, ow, chw);
    }
}
