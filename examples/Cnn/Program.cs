// A small CNN trained by a hand-written loop: DataLoader batches, forward, cross-entropy, backward, AdamW step,
// then evaluation in eval mode without gradients. ModuleTrainer does the same with scopes, callbacks and checkpoints.
using Sharpgrad;
using Sharpgrad.NN;

var gen = new Generator(0);
var fashion = DataSources.Load("fashion-mnist", null);
var train = fashion.Train.Take(2000);
var test = fashion.Test.Take(1000);
var normalize = Normalize.FromData(train);

var model = new Sequential(
    new Conv2d(1, 8, 3, padding: 1, generator: gen), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2),   // (B, 8, 14, 14)
    new Conv2d(8, 16, 3, padding: 1, generator: gen), new ReLU(), new MaxPool2d(2),                      // (B, 16, 7, 7)
    new Flatten(),
    new Linear(16 * 7 * 7, 10, generator: gen));
Console.Write(ModelSummary.Create(model, [1, 28, 28]).ToText());

var optimizer = new AdamW(model.Parameters(), lr: 0.003);
var loader = new DataLoader(train, 64, shuffle: true, seed: 1, transforms: [normalize, new RandomHorizontalFlip()]);
for (int epoch = 0; epoch < 2; epoch++)
{
    model.Train();
    double sum = 0;
    int batches = 0;
    foreach (var batch in loader.Epoch(epoch))
    {
        var loss = Losses.CrossEntropy(model.Call(batch.Images), batch.Labels);
        optimizer.ZeroGrad();
        loss.Backward();
        optimizer.Step();
        sum += loss.Item();
        batches++;
    }
    Console.WriteLine($"epoch {epoch + 1}: mean training loss {sum / batches:F4}");
}

model.Eval();
int correct = 0;
using (Tensor.NoGrad())
    foreach (var batch in new DataLoader(test, 500, transforms: [normalize]).Epoch(0))
    {
        var predicted = model.Call(batch.Images).Argmax(1).ToArray();
        correct += predicted.Where((p, i) => (int)p == batch.Labels[i]).Count();
    }
Console.WriteLine($"test accuracy {correct / (double)test.Count:P2}");
return correct > 0.7 * test.Count ? 0 : 1;
