using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class ExamCnnTests
{
    [Theory]
    [InlineData("cifar", 3, 32, 32)]
    [InlineData("fashion", 1, 28, 28)]
    public void MatchesPyTorchInTrainAndEvalMode(string name, int c, int h, int w)
    {
        var fx = Fixture.Nn.GetProperty("cnn").GetProperty(name);
        var model = ExamCnn.Create(c, h, w);
        var own = model.StateDict().ToDictionary(s => s.Name, s => s.Value);
        var state = new Dictionary<string, Tensor>();
        foreach (var p in fx.GetProperty("state").EnumerateObject())
            state[p.Name] = Tensor.FromArray(Fixture.Floats(p.Value)).Reshape(own[p.Name].Shape).To(own[p.Name].DType);
        Assert.Equal(own.Keys.OrderBy(k => k), state.Keys.OrderBy(k => k)); // PyTorch's state_dict names
        model.LoadStateDict(state);

        var input = fx.GetProperty("input");
        var x = Tensor.FromArray(Fixture.Floats(input.GetProperty("data"))).Reshape(Fixture.Ints(input.GetProperty("shape")));
        var labels = Fixture.Ints(fx.GetProperty("labels"));
        model.Train();
        var logits = model.Forward(x);
        Fixture.AssertClose("train output", Fixture.Floats(fx.GetProperty("train_output")), logits.ToArray(), 1e-5, 1e-3);
        var loss = Losses.CrossEntropy(logits, labels);
        Assert.Equal(fx.GetProperty("loss").GetDouble(), loss.Item(), 4);
        loss.Backward();
        foreach (var (pname, p) in model.NamedParameters())
            Fixture.AssertClose("grad " + pname, Fixture.Floats(fx.GetProperty("grads").GetProperty(pname)), p.Grad!.ToArray(), 1e-4, 1e-3);
        foreach (var b in fx.GetProperty("buffers_after_train").EnumerateObject())
            Fixture.AssertClose("buffer " + b.Name, Fixture.Floats(b.Value), own[b.Name].ToArray(), 1e-6, 1e-4);

        model.Eval();
        using var _ = Tensor.NoGrad();
        Fixture.AssertClose("eval output", Fixture.Floats(fx.GetProperty("eval_output")), model.Forward(x).ToArray(), 1e-5, 1e-3);
    }

    [Fact]
    public void FitsTheInputShape()
    {
        Assert.Equal(1024, ((Linear)ExamCnn.Create(3, 32, 32).Layers[^1]).InFeatures);
        Assert.Equal(784, ((Linear)ExamCnn.Create(1, 28, 28).Layers[^1]).InFeatures);
        Assert.Equal(10, ((Linear)ExamCnn.Create(1, 28, 28).Layers[^1]).OutFeatures);
        var withDropout = ExamCnn.Create(1, 28, 28, dropout: 0.3);
        Assert.IsType<Dropout>(withDropout[8]);
        Assert.Equal("9.weight", withDropout.NamedParameters().Last().Name.Replace("bias", "weight", StringComparison.Ordinal));
        var ex = Assert.Throws<ArgumentException>(() => ExamCnn.Create(1, 28, 28).Forward(Tensor.Zeros([2, 3, 28, 28])));
        Assert.Contains("Conv2d: input channels differ (3 vs 1)", ex.Message);
        Assert.Throws<ArgumentException>(() => ExamCnn.Create(1, 2, 2));
    }

    [Fact]
    public void StateDictNamesAreThoseOfPyTorchsSequential()
    {
        var names = ExamCnn.Create(3, 32, 32).StateDict().Select(s => s.Name).ToArray();
        Assert.Equal(
            ["0.weight", "0.bias", "3.weight", "3.bias", "3.running_mean", "3.running_var", "3.num_batches_tracked", "4.weight", "4.bias", "8.weight", "8.bias"],
            names);
    }
}
