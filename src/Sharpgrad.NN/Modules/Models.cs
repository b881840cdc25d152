namespace Sharpgrad.NN;

/// <summary>
/// The built-in models, by name, each built for the dataset's input shape (C, H, W) and class count. Their
/// definitions in PyTorch are in tools/sharpgrad_models.py (same layers, same state_dict names, same parameter counts).
/// </summary>
public static class Models
{
    /// <summary>The names <see cref="Create"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } = ["exam-cnn", "mlp", "lenet5", "resnet8", "resnet20", "mobilenet", "cnn3"];

    /// <summary>One line per model, for help texts.</summary>
    public static string Describe(string name) => name switch
    {
        "exam-cnn" => "the exam's CNN: Conv 3x3 (16) -> ReLU -> MaxPool -> BatchNorm -> Conv 3x3 (16) -> ReLU -> MaxPool -> Flatten -> FC",
        "mlp" => "Flatten -> Linear (C*H*W -> 256) -> ReLU -> Linear (256 -> classes)",
        "lenet5" => "LeNet-5 (LeCun et al. 1998) with ReLU and max pooling: Conv 5x5 (6) -> Pool -> Conv 5x5 (16) -> Pool -> FC 120 -> FC 84 -> FC",
        "resnet8" => "CIFAR ResNet-8 (He et al. 2016): 3 stages of 1 basic block, 16/32/64 channels, 1x1 projection shortcuts",
        "resnet20" => "CIFAR ResNet-20 (He et al. 2016): 3 stages of 3 basic blocks, 16/32/64 channels, 1x1 projection shortcuts",
        "mobilenet" => "MobileNet-style (Howard et al. 2017): Conv 3x3 (16), 4 depthwise-separable blocks (3x3 depthwise + 1x1 pointwise) to 32/64/128/128 channels",
        "cnn3" => "the exam CNN's block three times, wider: Conv 3x3 (32) -> ReLU -> MaxPool -> BatchNorm -> Conv 3x3 (64) -> ReLU -> MaxPool -> BatchNorm -> Conv 3x3 (64) -> ReLU -> MaxPool -> Flatten -> FC (61,706 parameters at 1x28x28)",
        _ => throw new ArgumentException($"model: unknown model '{name}'; expected one of {string.Join(", ", Names)}."),
    };

    /// <summary>Builds model <paramref name="name"/> for inputs (C, H, W) and <paramref name="classes"/> classes.</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="channels">C of the input.</param>
    /// <param name="height">H of the input.</param>
    /// <param name="width">W of the input.</param>
    /// <param name="classes">Number of outputs.</param>
    /// <param name="dropout">Dropout probability before the last Linear layer (0: no Dropout layer).</param>
    /// <param name="generator">Source of the initial weights (default: <see cref="Generator.Default"/>).</param>
    /// <exception cref="ArgumentException">An unknown name, or an input too small for the model.</exception>
    public static Module Create(string name, int channels, int height, int width, int classes, double dropout = 0, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (classes < 2) throw new ArgumentException($"{name}: expected at least 2 classes, got {classes}.");
        if (channels < 1 || height < 1 || width < 1 || (long)channels * height * width > 1 << 26)
            throw new ArgumentException($"{name}: input {channels}x{height}x{width} must have positive sizes and at most {1 << 26} values.");
        var g = generator ?? Generator.Default;
        return name switch
        {
            "exam-cnn" => ExamCnn.Create(channels, height, width, classes, dropout, g),
            "mlp" => Mlp(channels * height * width, [256], classes, dropout, g),
            "lenet5" => LeNet5(channels, height, width, classes, dropout, g),
            "resnet8" => CifarResNet(channels, height, width, classes, 1, dropout, g),
            "resnet20" => CifarResNet(channels, height, width, classes, 3, dropout, g),
            "mobilenet" => MobileNet(channels, height, width, classes, dropout, g),
            "cnn3" => Cnn3(channels, height, width, classes, dropout, g),
            _ => throw new ArgumentException($"model: unknown model '{name}'; expected one of {string.Join(", ", Names)}."),
        };
    }

    /// <summary>Flatten, then Linear -> ReLU for each hidden width, then Linear to <paramref name="classes"/>.</summary>
    public static Sequential Mlp(int inputs, IReadOnlyList<int> hidden, int classes, double dropout = 0, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(hidden);
        var net = new Sequential(new Flatten());
        int width = inputs;
        foreach (int h in hidden)
        {
            net.Add(new Linear(width, h, generator: generator));
            net.Add(new ReLU());
            width = h;
        }
        if (dropout > 0) net.Add(new Dropout(dropout, generator));
        net.Add(new Linear(width, classes, generator: generator));
        return net;
    }

    /// <summary>
    /// LeNet-5 in its common modern form: the 1998 layout (C1 6 maps 5x5, S2, C3 16 maps 5x5, S4, C5 120, F6 84,
    /// output) with ReLU instead of the scaled tanh, max pooling instead of trainable subsampling, full C3
    /// connections, C5 as a fully connected layer and a plain linear output instead of RBF units. The first
    /// convolution pads so that it sees at least 32x32 (2 for 28x28 inputs, 0 for 32x32, as the paper's 32x32 input).
    /// </summary>
    public static Sequential LeNet5(int channels, int height, int width, int classes, double dropout = 0, Generator? generator = null)
    {
        int pad = Math.Max(0, (32 - Math.Min(height, width) + 1) / 2);
        int h = ((height + 2 * pad - 4) / 2 - 4) / 2, w = ((width + 2 * pad - 4) / 2 - 4) / 2;
        if (h < 1 || w < 1) throw new ArgumentException($"lenet5: input {channels}x{height}x{width} is too small; expected at least 16x16 pixels.");
        var net = new Sequential(
            new Conv2d(channels, 6, 5, padding: pad, generator: generator), new ReLU(), new MaxPool2d(2),
            new Conv2d(6, 16, 5, generator: generator), new ReLU(), new MaxPool2d(2),
            new Flatten(),
            new Linear(16 * h * w, 120, generator: generator), new ReLU(),
            new Linear(120, 84, generator: generator), new ReLU());
        if (dropout > 0) net.Add(new Dropout(dropout, generator));
        net.Add(new Linear(84, classes, generator: generator));
        return net;
    }

    /// <summary>
    /// He et al. 2016's CIFAR ResNet with 6n + 2 layers: Conv 3x3 (16) -> BN -> ReLU, three stages of n basic blocks
    /// with 16, 32 and 64 channels (the first block of stages 2 and 3 has stride 2), global average pooling and a
    /// Linear layer. A basic block is Residual(Conv 3x3 -> BN -> ReLU -> Conv 3x3 -> BN, shortcut) -> ReLU, the
    /// convolutions without bias; where the shape changes the shortcut is a strided 1x1 convolution and batch norm
    /// (the paper's option B; its CIFAR models used option A, zero-padded identity shortcuts).
    /// </summary>
    public static Sequential CifarResNet(int channels, int height, int width, int classes, int blocksPerStage, double dropout = 0, Generator? generator = null)
    {
        if (height < 4 || width < 4) throw new ArgumentException($"resnet: input {channels}x{height}x{width} is too small; expected at least 4x4 pixels.");
        var net = new Sequential(new Conv2d(channels, 16, 3, padding: 1, bias: false, generator: generator), new BatchNorm2d(16), new ReLU());
        int inC = 16;
        foreach (var (outC, firstStride) in new[] { (16, 1), (32, 2), (64, 2) })
        {
            for (int b = 0; b < blocksPerStage; b++)
            {
                int stride = b == 0 ? firstStride : 1;
                var body = new Sequential(
                    new Conv2d(inC, outC, 3, stride, 1, bias: false, generator: generator), new BatchNorm2d(outC), new ReLU(),
                    new Conv2d(outC, outC, 3, 1, 1, bias: false, generator: generator), new BatchNorm2d(outC));
                Module? shortcut = stride != 1 || inC != outC
                    ? new Sequential(new Conv2d(inC, outC, 1, stride, bias: false, generator: generator), new BatchNorm2d(outC))
                    : null;
                net.Add(new Residual(body, shortcut));
                net.Add(new ReLU());
                inC = outC;
            }
        }
        net.Add(new AdaptiveAvgPool2d(1));
        net.Add(new Flatten());
        if (dropout > 0) net.Add(new Dropout(dropout, generator));
        net.Add(new Linear(64, classes, generator: generator));
        return net;
    }

    /// <summary>
    /// A small MobileNet-style network (Howard et al. 2017, "MobileNets"): Conv 3x3 (16) -> BN -> ReLU, then four
    /// depthwise-separable blocks, each a 3x3 depthwise convolution (groups = channels) -> BN -> ReLU -> 1x1 pointwise
    /// convolution -> BN -> ReLU, to 32 (stride 1), 64 (stride 2), 128 (stride 2) and 128 (stride 1) channels; global
    /// average pooling and a Linear layer. Convolutions have no bias (batch norm follows each).
    /// </summary>
    public static Sequential MobileNet(int channels, int height, int width, int classes, double dropout = 0, Generator? generator = null)
    {
        if (height < 4 || width < 4) throw new ArgumentException($"mobilenet: input {channels}x{height}x{width} is too small; expected at least 4x4 pixels.");
        var net = new Sequential(new Conv2d(channels, 16, 3, padding: 1, bias: false, generator: generator), new BatchNorm2d(16), new ReLU());
        int inC = 16;
        foreach (var (outC, stride) in new[] { (32, 1), (64, 2), (128, 2), (128, 1) })
        {
            net.Add(new Conv2d(inC, inC, 3, stride, 1, bias: false, generator: generator, groups: inC));
            net.Add(new BatchNorm2d(inC));
            net.Add(new ReLU());
            net.Add(new Conv2d(inC, outC, 1, bias: false, generator: generator));
            net.Add(new BatchNorm2d(outC));
            net.Add(new ReLU());
            inC = outC;
        }
        net.Add(new AdaptiveAvgPool2d(1));
        net.Add(new Flatten());
        if (dropout > 0) net.Add(new Dropout(dropout, generator));
        net.Add(new Linear(inC, classes, generator: generator));
        return net;
    }

    /// <summary>
    /// The exam CNN's block (Conv 3x3 -> ReLU -> MaxPool 2x2 -> BatchNorm) three times with 32, 64 and 64 filters, the
    /// last block without batch norm (as the exam CNN's second), then Flatten and a Linear layer:
    /// x: (N,C,H,W) -> (N,32,H/2,W/2) -> (N,64,H/4,W/4) -> (N,64,H/8,W/8) -> (N,classes). 61,706 parameters at
    /// 1x28x28 with 10 classes; trained with <c>--epochs 6 --lr 0.01 --l1 0 --label-smoothing 0.1 --tta flip</c> it
    /// reaches about 93% on Fashion-MNIST (the README's figures).
    /// </summary>
    /// <exception cref="ArgumentException">An input smaller than 8x8 pixels.</exception>
    public static Sequential Cnn3(int channels, int height, int width, int classes, double dropout = 0, Generator? generator = null)
    {
        if (height < 8 || width < 8) throw new ArgumentException($"cnn3: input {channels}x{height}x{width} is too small; expected at least 8x8 pixels.");
        var net = new Sequential(
            new Conv2d(channels, 32, 3, padding: 1, generator: generator), new ReLU(), new MaxPool2d(2), new BatchNorm2d(32),
            new Conv2d(32, 64, 3, padding: 1, generator: generator), new ReLU(), new MaxPool2d(2), new BatchNorm2d(64),
            new Conv2d(64, 64, 3, padding: 1, generator: generator), new ReLU(), new MaxPool2d(2),
            new Flatten());
        if (dropout > 0) net.Add(new Dropout(dropout, generator));
        net.Add(new Linear(64 * (height / 8) * (width / 8), classes, generator: generator));
        return net;
    }
}
