using Sharpgrad.NN;
using Xunit;

namespace Sharpgrad.NN.Tests;

/// <summary>The README's "Training your own module" example is this code, character for character, and it learns.</summary>
public sealed class ReadmeTrainingExampleTests
{
    private static (ModuleTrainer Trainer, TrainingResult Result, BestCheckpoint Best, ImageDataset Validation, Normalize Normalize, string RunDir) Run()
    {
        // README-EXAMPLE-BEGIN
        // 4,000 training and 1,000 validation images from the bundled Fashion-MNIST
        var fashion = DataSources.Load("fashion-mnist", null);
        var train = fashion.Train.Take(4000);
        var validation = fashion.Test.Take(1000);
        var normalize = Normalize.FromData(train);

        var options = new ModuleTrainerOptions
        {
            Epochs = 2,
            BatchSize = 64,
            LearningRate = 0.01,
            TrainTransforms = [normalize],
            EvaluationTransforms = [normalize],
            Schedule = (optimizer, steps) => new CosineAnnealingLr(optimizer, steps),
        };
        var runDir = Directory.CreateTempSubdirectory("smallnet-").FullName;
        var best = new BestCheckpoint(Path.Combine(runDir, "best.safetensors"), TrainingMetric.ValidationAccuracy);
        var trainer = new ModuleTrainer(g => new SmallNet(g), train, validation, options);
        var result = trainer.Fit([
            new ProgressCallback(Console.WriteLine, everySteps: 25),
            new EarlyStopping(TrainingMetric.ValidationLoss, patience: 2),
            best,
            new CsvLogger(Path.Combine(runDir, "metrics.csv")),
        ]);
        Console.WriteLine($"best validation accuracy {best.BestValue:P2} at epoch {best.BestEpoch}");
        // README-EXAMPLE-END
        return (trainer, result, best, validation, normalize, runDir);
    }

    [Fact]
    public void ExampleLearnsAndItsBestCheckpointReloads()
    {
        var (trainer, result, best, validation, normalize, runDir) = Run();
        try
        {
            Assert.Equal(2, result.Metrics.Count);
            Assert.Null(result.StopReason);
            Assert.True(best.BestValue > 0.75, $"best validation accuracy {best.BestValue:P2} after 2 epochs on 4,000 images");
            Assert.Equal(result.Metrics.Max(m => m.TestAccuracy), best.BestValue);
            Assert.True(File.Exists(Path.Combine(runDir, "best.safetensors")));
            Assert.Equal(3, File.ReadAllLines(Path.Combine(runDir, "metrics.csv")).Length);

            // a fresh model with the best weights evaluates to the reported best accuracy
            var fresh = new SmallNet(new Generator(123));
            best.Restore(fresh);
            var again = TrainingLoop.Evaluate(fresh, new DataLoader(validation, 500, transforms: [normalize]), 10);
            Assert.Equal(best.BestValue, again.Accuracy);
            Assert.Equal(trainer.Model.ParameterCount(), fresh.ParameterCount());
        }
        finally
        {
            Directory.Delete(runDir, recursive: true);
        }
    }

    [Fact]
    public void ReadmeShowsExactlyThisCode()
    {
        string Find(string start, string file)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, file))) return Path.Combine(dir.FullName, file);
            throw new FileNotFoundException(file);
        }
        var root = Path.GetDirectoryName(Find(AppContext.BaseDirectory, "Sharpgrad.slnx"))!;
        var src = File.ReadAllLines(Path.Combine(root, "tests", "Sharpgrad.NN.Tests", "ReadmeTrainingExampleTests.cs"));
        string[] Between(string begin, string end, int indent)
        {
            int b = Array.FindIndex(src, l => l.Trim() == begin);
            int e = Array.FindIndex(src, l => l.Trim() == end);
            Assert.True(b >= 0 && e > b, $"{begin} .. {end}");
            return src[(b + 1)..e].Select(l => l.Length >= indent ? l[indent..] : l.Trim()).ToArray();
        }
        var body = Between("// README-EXAMPLE-BEGIN", "// README-EXAMPLE-END", 8);
        var type = Between("// README-CLASS-BEGIN", "// README-CLASS-END", 0);
        var readme = File.ReadAllText(Path.Combine(root, "README.md")).Replace("\r\n", "\n");
        var block = "using Sharpgrad;\nusing Sharpgrad.NN;\n\n"
            + string.Join("\n", body) + "\n\n" + string.Join("\n", type) + "\n";
        Assert.Contains(block, readme);
    }
}

// README-CLASS-BEGIN
// a small CNN of your own: register every layer, so the optimizer, the state dict and the checkpoints see it
sealed class SmallNet : Module
{
    private readonly Conv2d _conv1, _conv2;
    private readonly Linear _fc;

    public SmallNet(Generator g)
    {
        _conv1 = RegisterModule("conv1", new Conv2d(1, 8, 3, padding: 1, generator: g));
        _conv2 = RegisterModule("conv2", new Conv2d(8, 16, 3, padding: 1, generator: g));
        _fc = RegisterModule("fc", new Linear(16 * 7 * 7, 10, generator: g));
    }

    public override Tensor Forward(Tensor x)
    {
        x = _conv1.Call(x).Relu().MaxPool2d(2);   // (B, 8, 14, 14)
        x = _conv2.Call(x).Relu().MaxPool2d(2);   // (B, 16, 7, 7)
        return _fc.Call(x.Flatten(1));            // (B, 10): one score per class
    }
}
// README-CLASS-END
