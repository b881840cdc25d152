namespace Sharpgrad.NN;

/// <summary>
/// The exam's network (EXAM.md, Q10): Conv 3x3 (16) -> ReLU -> MaxPool 2x2 -> BatchNorm -> Conv 3x3 (16) -> ReLU
/// -> MaxPool 2x2 -> Flatten -> [Dropout] -> FC(classes). 3x32x32 gives FC 1024 -> 10; 1x28x28 gives FC 784 -> 10.
/// </summary>
public static class ExamCnn
{
    /// <summary>Builds the network for inputs of shape (channels, height, width).</summary>
    public static Sequential Create(int channels, int height, int width, int classes = 10, double dropout = 0, Generator? generator = null)
    {
        if (channels < 1 || height < 4 || width < 4)
            throw new ArgumentException($"ExamCnn: input {channels}x{height}x{width} is too small; expected at least 1 channel and 4x4 pixels (two 2x2 poolings).");
        if (classes < 2) throw new ArgumentException($"ExamCnn: expected at least 2 classes, got {classes}.");
        var g = generator ?? Generator.Default;
        int flat = 16 * (height / 2 / 2) * (width / 2 / 2);
        var net = new Sequential(
            new Conv2d(channels, 16, 3, padding: 1, generator: g),
            new ReLU(),
            new MaxPool2d(2),
            new BatchNorm2d(16),
            new Conv2d(16, 16, 3, padding: 1, generator: g),
            new ReLU(),
            new MaxPool2d(2),
            new Flatten());
        if (dropout > 0) net.Add(new Dropout(dropout, g));
        net.Add(new Linear(flat, classes, generator: g));
        return net;
    }

    /// <summary>Parses "CxHxW" (e.g. "3x32x32").</summary>
    public static (int C, int H, int W) ParseShape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('x', 'X');
        if (parts.Length == 3 && int.TryParse(parts[0], out int c) && int.TryParse(parts[1], out int h) && int.TryParse(parts[2], out int w) && c > 0 && h > 0 && w > 0)
        {
            // many channels and an image 1-4 pixels wide but taller: height x width x channels, as images are stored
            if (c > 4 && w <= 4 && h > 4)
                throw new FormatException($"input shape '{text}' reads as {c} channels of {h}x{w} pixels; the order is CxHxW, channels first: did you mean {w}x{c}x{h}?");
            return (c, h, w);
        }
        throw new FormatException($"input shape '{text}' is not of the form CxHxW with positive sizes (e.g. 3x32x32).");
    }
}
