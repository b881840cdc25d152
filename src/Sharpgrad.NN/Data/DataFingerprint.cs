using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Sharpgrad.NN;

/// <summary>
/// What identifies a dataset when its folder moves: its kind, the training and test image counts, the image shape,
/// the class count and a SHA-256 over the class names, every label and a sample of the pixels (up to
/// <see cref="SampledImages"/> evenly spaced images of each split, the first included), so it costs a few
/// milliseconds, not a pass over every pixel. A run stores it (checkpoint and model.json, as <see cref="ToString"/>),
/// and a resume from a moved data folder is accepted when the folder's fingerprint is the same.
/// </summary>
public sealed partial record DataFingerprint(string Kind, int TrainImages, int TestImages, int Channels, int Height, int Width, int Classes, string Sha256)
{
    /// <summary>The most images of each split whose pixels are hashed.</summary>
    public const int SampledImages = 1024;

    /// <summary>The fingerprint of <paramref name="data"/> (loaded as <paramref name="kind"/>, before any limit on the number of images).</summary>
    public static DataFingerprint Of(string kind, DatasetPair data)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(data);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var word = new byte[4];
        void Int(int v)
        {
            BinaryPrimitives.WriteInt32LittleEndian(word, v);
            sha.AppendData(word);
        }
        Int(data.Train.ClassNames.Count);
        foreach (var name in data.Train.ClassNames)
        {
            var bytes = Encoding.UTF8.GetBytes(name);
            Int(bytes.Length);
            sha.AppendData(bytes);
        }
        foreach (var split in new[] { data.Train, data.Test })
        {
            Int(split.Count);
            var labels = new byte[4L * split.Count];
            for (int i = 0; i < split.Count; i++) BinaryPrimitives.WriteInt32LittleEndian(labels.AsSpan(4 * i), split.Labels[i]);
            sha.AppendData(labels);
            int k = Math.Min(split.Count, SampledImages), size = split.ImageSize;
            for (int i = 0; i < k; i++)
                sha.AppendData(split.Pixels, (int)((long)i * split.Count / k * size), size);
        }
        var t = data.Train;
        return new DataFingerprint(kind, t.Count, data.Test.Count, t.Channels, t.Height, t.Width, t.ClassNames.Count,
            Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    /// <summary>The stored form: "mnist-idx 60000+10000 images of 1x28x28, 10 classes, sha256 (64 hex digits)".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Kind} {TrainImages}+{TestImages} images of {Channels}x{Height}x{Width}, {Classes} classes, sha256 {Sha256}");

    /// <summary>Reads the stored form (<see cref="ToString"/>); null when <paramref name="text"/> is not one.</summary>
    public static DataFingerprint? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length > 200) return null; // the stored form is at most about 180 characters
        var m = Stored().Match(text);
        if (!m.Success) return null;
        int[] n = new int[6];
        string[] groups = ["train", "test", "c", "h", "w", "classes"];
        for (int i = 0; i < n.Length; i++)
            if (!int.TryParse(m.Groups[groups[i]].Value, NumberStyles.None, CultureInfo.InvariantCulture, out n[i])) return null;
        return new DataFingerprint(m.Groups["kind"].Value, n[0], n[1], n[2], n[3], n[4], n[5], m.Groups["hash"].Value);
    }

    /// <summary>How <paramref name="other"/> differs from this one, e.g. "600+100 images, not 60000+10000; labels and sampled pixels sha256 5e6f7a8b9c0d..., not 1a2b3c4d5e6f...".</summary>
    public string Differences(DataFingerprint other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var d = new List<string>();
        if (other.Kind != Kind) d.Add($"{other.Kind}, not {Kind}");
        if ((other.TrainImages, other.TestImages) != (TrainImages, TestImages))
            d.Add(string.Create(CultureInfo.InvariantCulture, $"{other.TrainImages}+{other.TestImages} images, not {TrainImages}+{TestImages}"));
        if ((other.Channels, other.Height, other.Width) != (Channels, Height, Width))
            d.Add(string.Create(CultureInfo.InvariantCulture, $"images of {other.Channels}x{other.Height}x{other.Width}, not {Channels}x{Height}x{Width}"));
        if (other.Classes != Classes) d.Add(string.Create(CultureInfo.InvariantCulture, $"{other.Classes} classes, not {Classes}"));
        if (other.Sha256 != Sha256) d.Add($"labels and sampled pixels sha256 {other.Sha256[..Math.Min(12, other.Sha256.Length)]}..., not {Sha256[..Math.Min(12, Sha256.Length)]}...");
        return string.Join("; ", d);
    }

    [GeneratedRegex(@"^(?<kind>[a-z0-9-]{1,40}) (?<train>[0-9]{1,10})\+(?<test>[0-9]{1,10}) images of (?<c>[0-9]{1,10})x(?<h>[0-9]{1,10})x(?<w>[0-9]{1,10}), (?<classes>[0-9]{1,10}) classes, sha256 (?<hash>[0-9a-f]{64})\z", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex Stored();
}
