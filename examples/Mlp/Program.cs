// A multilayer perceptron on 3,000 images of the bundled Fashion-MNIST: Sequential, ModuleTrainer, and the weights
// saved as safetensors (PyTorch's state_dict names) and loaded back into a fresh model.
using Sharpgrad;
using Sharpgrad.NN;

// README-LIBRARY-BEGIN
var fashion = DataSources.Load("fashion-mnist", null);          // or DataSources.Load("mnist-idx", "DIR")
var train = fashion.Train.Take(3000);
var test = fashion.Test.Take(1000);
var normalize = Normalize.FromData(train);

Module Mlp(Generator g) => new Sequential(
    new Flatten(),                                             // (B, 1, 28, 28) -> (B, 784)
    new Linear(28 * 28, 128, generator: g),
    new ReLU(),
    new Linear(128, 10, generator: g));                        // one score per class

var trainer = new ModuleTrainer(Mlp, train, test, new ModuleTrainerOptions
{
    Epochs = 3,
    BatchSize = 64,
    LearningRate = 0.002,                                      // AdamW unless Optimizer says otherwise
    TrainTransforms = [normalize],
    EvaluationTransforms = [normalize],
});
var result = trainer.Fit([new ProgressCallback(Console.WriteLine, everySteps: 20)]);
Console.WriteLine($"test accuracy {result.Metrics[^1].TestAccuracy:P2}");

// save the weights (0.weight, 1.bias, ... as torch.nn.Sequential names them) and load them into a new model
var path = Path.Combine(Path.GetTempPath(), "mlp.safetensors");
SafeTensors.Write(path, trainer.Model.StateDict());
var reloaded = Mlp(new Generator(99));
reloaded.LoadStateDict(SafeTensors.Read(path).Tensors);
var again = TrainingLoop.Evaluate(reloaded, new DataLoader(test, 500, transforms: [normalize]), classes: 10);
Console.WriteLine($"reloaded: test accuracy {again.Accuracy:P2}");
// README-LIBRARY-END
File.Delete(path);
return again.Accuracy == result.Metrics[^1].TestAccuracy && again.Accuracy > 0.7 ? 0 : 1;
