using Sharpgrad.NN;

namespace Sharpgrad.Workflows;

/// <summary>A training recipe; the defaults train the exam CNN on the bundled Fashion-MNIST.</summary>
public sealed record TrainOptions
{
    /// <summary>fashion-mnist, mnist-idx, cifar10 or folder.</summary>
    public string Data { get; init; } = "fashion-mnist";

    /// <summary>Folder of the dataset (not needed for the bundled fashion-mnist).</summary>
    public string? DataDir { get; init; }

    /// <summary>
    /// The network: a built-in model's name (<see cref="Models.Names"/>, default "exam-cnn") or the path of a model
    /// file (<see cref="ModelSpec"/>, sharpgrad-model/1 JSON).
    /// </summary>
    public string Model { get; init; } = "exam-cnn";

    /// <summary>Whether <see cref="Model"/> names a built-in model (otherwise it is a model file).</summary>
    public bool IsBuiltInModel => Models.Names.Contains(Model);

    /// <summary>Total epochs (when resuming: the new total).</summary>
    public int Epochs { get; init; } = 15;

    /// <summary>Images per batch.</summary>
    public int BatchSize { get; init; } = 128;

    /// <summary>sgd, rmsprop, adam or adamw.</summary>
    public string Optimizer { get; init; } = "adamw";

    /// <summary>Learning rate (the peak rate under one-cycle); null picks the optimizer's recipe default.</summary>
    public double? Lr { get; init; }

    /// <summary>Weight decay (L2 in the gradient for sgd/rmsprop/adam, decoupled for adamw).</summary>
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>
    /// L1 penalty strength on the Conv2d and Linear weights, applied by its proximal step. The default recipe uses
    /// 1e-4: the dense model is as accurate as without it (and keeps ~98% of its weights non-zero), but its small
    /// weights sit nearer zero, so it loses less when pruned.
    /// </summary>
    public double L1 { get; init; } = 1e-4;

    /// <summary>
    /// Label smoothing eps of the training loss, in [0, 1] (PyTorch's CrossEntropyLoss label_smoothing: the target is
    /// (1 - eps) onehot + eps / classes); 0: plain cross-entropy. The test loss is always plain cross-entropy.
    /// </summary>
    public double LabelSmoothing { get; init; }

    /// <summary>
    /// Decay of an exponential moving average of the weights and running statistics, updated after every step
    /// (<see cref="ExponentialMovingAverage"/>, with TensorFlow's num_updates warm-up), in [0, 1); the test accuracy,
    /// model.safetensors and the checkpoint's "ema.*" tensors are the averaged model's. 0: none.
    /// </summary>
    public double Ema { get; init; }

    /// <summary>
    /// Test-time augmentation of every evaluation: "flip" averages the logits of each test image and of its
    /// horizontal mirror (<see cref="TrainingLoop.Evaluate"/>); "none" evaluates the images as they are.
    /// Training is unchanged; the saved model is the same either way. Meant for models trained with flip augmentation
    /// (<see cref="Augment"/>): the exam CNN trained without it scores about 11 points lower with flip averaging (its
    /// mirrored shoes point the other way).
    /// </summary>
    public string Tta { get; init; } = "none";

    /// <summary>Dropout probability before a built-in model's last Linear layer (0: no dropout layer).</summary>
    public double Dropout { get; init; }

    /// <summary>Augmentation of the training images: "" (none), "flip" (random horizontal flip), "crop" (random
    /// crop with padding 2), or "flip,crop". The default recipe flips.</summary>
    public string Augment { get; init; } = "flip";

    /// <summary>The augmentation names, parsed.</summary>
    public IReadOnlyList<string> AugmentList => Augment.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>onecycle, cosine, step or none.</summary>
    public string Schedule { get; init; } = "onecycle";

    /// <summary>Seed of initialisation, shuffling, augmentation and dropout.</summary>
    public ulong Seed { get; init; }

    /// <summary>Kernel threads.</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Use only the first N training images (quick runs).</summary>
    public int? Limit { get; init; }

    /// <summary>Use only the first N test images (quick runs).</summary>
    public int? TestLimit { get; init; }

    /// <summary>The training images' transforms: the augmentations (crop before flip), then <paramref name="normalize"/>.</summary>
    public IReadOnlyList<ITransform> TrainingTransforms(Normalize normalize)
    {
        var transforms = new List<ITransform>();
        if (AugmentList.Contains("crop")) transforms.Add(new RandomCrop(2));
        if (AugmentList.Contains("flip")) transforms.Add(new RandomHorizontalFlip());
        transforms.Add(normalize);
        return transforms;
    }

    /// <summary>The learning rate used when <see cref="Lr"/> is null.</summary>
    public double EffectiveLr => Lr ?? Optimizer switch { "sgd" => 0.1, "rmsprop" => 0.001, _ => 0.005 };

    /// <summary>A dataset kind (<see cref="DataSources.Kinds"/>) and its folder, which every kind but the bundled fashion-mnist needs.</summary>
    /// <exception cref="OptionException">An unknown kind, or no folder (named as the option "Data").</exception>
    internal static void CheckData(string kind, string? dir)
    {
        if (!DataSources.Kinds.Contains(kind)) throw new OptionException(nameof(Data), $"unknown dataset '{kind}'; expected one of {string.Join(", ", DataSources.Kinds)}.");
        if (dir is null && kind != "fashion-mnist") throw OptionException.Format($"{{0}}: {OptionException.Escape(kind)} needs a folder: {{0}} {OptionException.Escape(kind)} DIR.", nameof(Data));
    }

    /// <summary>Checks every option; the message names the option (its property name) and what was expected.</summary>
    /// <exception cref="OptionException">An option is out of range or unknown (one line).</exception>
    public void Validate()
    {
        if (string.IsNullOrEmpty(Model) || (!IsBuiltInModel && !File.Exists(Model)))
            throw new OptionException(nameof(Model), $"'{Model}' is neither a built-in model ({string.Join(", ", Models.Names)}) nor a model file (sharpgrad-model/1 JSON).");
        if (!IsBuiltInModel && Dropout > 0)
            throw new OptionException(nameof(Dropout), $"applies to the built-in models; add a Dropout layer to the model file {Model} instead.");
        CheckData(Data, DataDir);
        if (Epochs < 1) throw new OptionException(nameof(Epochs), $"expected a positive number, got {Epochs}.");
        if (BatchSize < 1) throw new OptionException(nameof(BatchSize), $"expected a positive number, got {BatchSize}.");
        if (Optimizer is not ("sgd" or "rmsprop" or "adam" or "adamw")) throw new OptionException(nameof(Optimizer), $"unknown optimizer '{Optimizer}'; expected sgd, rmsprop, adam or adamw.");
        if (!(EffectiveLr > 0) || double.IsInfinity(EffectiveLr)) throw new OptionException(nameof(Lr), $"expected a positive number, got {EffectiveLr}.");
        if (!(WeightDecay >= 0)) throw new OptionException(nameof(WeightDecay), $"expected a non-negative number, got {WeightDecay}.");
        if (!(L1 >= 0)) throw new OptionException(nameof(L1), $"expected a non-negative number, got {L1}.");
        if (!(LabelSmoothing >= 0 && LabelSmoothing <= 1)) throw new OptionException(nameof(LabelSmoothing), $"expected a number in [0, 1] (0: none; e.g. 0.1), got {LabelSmoothing}.");
        if (Tta is not ("none" or "flip")) throw new OptionException(nameof(Tta), $"expected none or flip, got \"{Tta}\".");
        if (!(Ema >= 0 && Ema < 1)) throw new OptionException(nameof(Ema), $"expected a decay in [0, 1) (0: none; e.g. 0.999), got {Ema}.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new OptionException(nameof(Dropout), $"expected a probability in [0, 1), got {Dropout}.");
        if (Schedule is not ("onecycle" or "cosine" or "step" or "none")) throw new OptionException(nameof(Schedule), $"unknown schedule '{Schedule}'; expected onecycle, cosine, step or none.");
        foreach (var a in AugmentList)
            if (a is not ("flip" or "crop")) throw new OptionException(nameof(Augment), $"unknown augmentation '{a}'; expected none, flip, crop or flip,crop.");
        if (Threads < 1) throw new OptionException(nameof(Threads), $"expected a positive number, got {Threads}.");
        if (Limit is < 1) throw new OptionException(nameof(Limit), $"expected a positive number of training images, got {Limit}.");
        if (TestLimit is < 1) throw new OptionException(nameof(TestLimit), $"expected a positive number of test images, got {TestLimit}.");
    }
}
