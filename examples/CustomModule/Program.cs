// A module of your own: a residual block with its own parameter (a learned scale on the shortcut), registered so the
// optimizer, the state dict, the summary and the model-file format see it, trained with ModuleTrainer on in-memory
// data (a TensorDataset), with early stopping and a checkpoint of the best epoch.
using System.Text.Json.Nodes;
using Sharpgrad;
using Sharpgrad.NN;

// three spirals' worth of points: 3 classes in 2-D, not linearly separable
var gen = new Generator(3);
const int n = 900;
var points = new float[n * 2];
var labels = new int[n];
for (int i = 0; i < n; i++)
{
    int c = i % 3;
    double r = (i / 3) / (n / 3.0);
    double angle = c * 2 * Math.PI / 3 + r * 4 + 0.2 * gen.NextNormal();
    points[2 * i] = (float)(r * Math.Cos(angle));
    points[2 * i + 1] = (float)(r * Math.Sin(angle));
    labels[i] = c;
}
var data = new TensorDataset(Tensor.FromArray(points, n, 2), labels, classes: 3);

ModelSpec.Register("ScaledResidual", spec => new ScaledResidual(spec.Int("features"), spec.Generator));
var runDir = Directory.CreateTempSubdirectory("custom-module-").FullName;
var best = new BestCheckpoint(Path.Combine(runDir, "best.safetensors"), TrainingMetric.ValidationAccuracy);
var trainer = new ModuleTrainer(g => new Sequential(new Linear(2, 32, generator: g), new ScaledResidual(32, g), new ScaledResidual(32, g), new Linear(32, 3, generator: g)),
    data, data, new ModuleTrainerOptions { Epochs = 40, BatchSize = 32, LearningRate = 0.01 });
trainer.Fit([best, new EarlyStopping(TrainingMetric.ValidationLoss, patience: 5)]);
Console.Write(ModelSummary.Create(trainer.Model, [2]).ToText());
Console.WriteLine($"best accuracy {best.BestValue:P1} at epoch {best.BestEpoch}; shortcut scales "
    + string.Join(", ", trainer.Model.NamedParameters().Where(p => p.Name.EndsWith("scale", StringComparison.Ordinal)).Select(p => $"{p.Name} = {p.Parameter.Data.Item():F3}")));
ModelSpec.Save(trainer.Model, Path.Combine(runDir, "model.json"));
var rebuilt = ModelSpec.Load(Path.Combine(runDir, "model.json"));
Console.WriteLine($"model.json rebuilds a model with {rebuilt.ParameterCount():N0} parameters (trained: {trainer.Model.ParameterCount():N0})");
Directory.Delete(runDir, recursive: true);
return best.BestValue > 0.9 && rebuilt.ParameterCount() == trainer.Model.ParameterCount() ? 0 : 1;

/// <summary>y = relu(linear(x)) + scale * x: a residual block whose shortcut has a learned scale.</summary>
sealed class ScaledResidual : Module
{
    private readonly Linear _linear;
    private readonly Parameter _scale;

    public ScaledResidual(int features, Generator? g = null)
    {
        Features = features;
        _linear = RegisterModule("linear", new Linear(features, features, generator: g));
        _scale = RegisterParameter("scale", Tensor.Ones([1]));
    }

    public int Features { get; }

    public override Tensor Forward(Tensor x) => _linear.Call(x).Relu().Add(x.Mul(_scale.Data));

    // the model-file format: the arguments that rebuild this layer
    public override JsonObject DescribeArguments() => new() { ["features"] = Features };
}
