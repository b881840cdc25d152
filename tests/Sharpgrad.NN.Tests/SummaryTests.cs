using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class SummaryTests
{
    [Fact]
    public void ReproducesTheExamTableRowByRow()
    {
        var s = ModelSummary.Create(ExamCnn.Create(3, 32, 32), [3, 32, 32]);
        (string Layer, int C, string Hw, int? Filters, int? Kernel, long Params)[] exam =
        [
            ("Input", 3, "32", null, null, 0),
            ("Conv", 16, "32", 16, 3, 448),
            ("ReLU", 16, "32", null, null, 0),
            ("Pool", 16, "16", null, 2, 0),
            ("BatchNorm", 16, "16", null, null, 32),
            ("Conv", 16, "16", 16, 3, 2320),
            ("ReLU", 16, "16", null, null, 0),
            ("Pool", 16, "8", null, 2, 0),
            ("Flatten", 1024, "-", null, null, 0),
            ("FC", 10, "-", null, null, 10250),
        ];
        Assert.Equal(exam.Length, s.Rows.Count);
        for (int i = 0; i < exam.Length; i++)
        {
            var r = s.Rows[i];
            Assert.Equal(exam[i].Layer, r.Layer);
            Assert.Equal(exam[i].C, r.Channels);
            Assert.Equal(exam[i].Hw, r.Spatial);
            Assert.Equal(exam[i].Filters, r.Filters);
            Assert.Equal(exam[i].Kernel, r.Kernel);
            Assert.Equal(exam[i].Params, r.Parameters);
        }
        Assert.Equal("(3*3*3 + 1) * 16", s.Rows[1].ParameterFormula);
        Assert.Equal("(16*3*3 + 1) * 16", s.Rows[5].ParameterFormula);
        Assert.Equal("1024*10 + 10", s.Rows[9].ParameterFormula);
        Assert.Equal("1024 = 16*8*8", s.Rows[8].ChannelsText);
        Assert.Equal(32, s.Rows[2].Spatial == "32" ? 32 : 31); // the answer sheet's 31 was wrong: ReLU keeps 32
        Assert.Equal(13050, s.TrainableParameters);
        Assert.Equal(32, s.BufferValues);
        Assert.Equal(16L * 32 * 32 * 27 + 16L * 16 * 16 * 144 + 10240, s.Macs);
        var text = s.ToText();
        Assert.Contains("448 = (3*3*3 + 1) * 16", text);
        Assert.Contains("Trainable parameters: 13,050", text);
        Assert.Contains("Non-trainable buffer values: 32", text);
    }

    [Fact]
    public void FashionMnistVariant()
    {
        var s = ModelSummary.Create(ExamCnn.Create(1, 28, 28), [1, 28, 28]);
        Assert.Equal(160, s.Rows[1].Parameters);
        Assert.Equal(7850, s.Rows[9].Parameters);
        Assert.Equal(10362, s.TrainableParameters);
        Assert.Equal("784 = 16*7*7", s.Rows[8].ChannelsText);
    }

    [Fact]
    public void NamesTheLayerThatCannotTakeTheInput()
    {
        var ex = Assert.Throws<ArgumentException>(() => ModelSummary.Create(ExamCnn.Create(3, 32, 32), [1, 32, 32]));
        Assert.Contains("layer 0 (Conv2d) cannot take input [1,1,32,32]", ex.Message);
    }
}

public sealed class CustomModuleSummaryTests
{
    /// <summary>
    /// A user's own module: two convolutional branches summed, then a head. The same in PyTorch:
    /// <code>
    /// class TwoBranch(nn.Module):
    ///     def __init__(self):
    ///         super().__init__()
    ///         self.left = nn.Conv2d(1, 8, 3, padding=1); self.right = nn.Conv2d(1, 8, 1)
    ///         self.norm = nn.BatchNorm2d(8); self.head = nn.Linear(8 * 14 * 14, 10)
    ///     def forward(self, x):
    ///         x = F.max_pool2d(F.relu(self.norm(self.left(x) + self.right(x))), 2)
    ///         return self.head(x.flatten(1))
    /// sum(p.numel() for p in TwoBranch().parameters())  # 15,802
    /// </code>
    /// </summary>
    private sealed class TwoBranch : Module
    {
        private readonly Conv2d _left;
        private readonly Conv2d _right;
        private readonly BatchNorm2d _norm;
        private readonly Linear _head;

        public TwoBranch(bool registerHead = true)
        {
            _left = RegisterModule("left", new Conv2d(1, 8, 3, padding: 1));
            _right = RegisterModule("right", new Conv2d(1, 8, 1));
            _norm = RegisterModule("norm", new BatchNorm2d(8));
            _head = registerHead ? RegisterModule("head", new Linear(8 * 14 * 14, 10)) : new Linear(8 * 14 * 14, 10);
        }

        public override Tensor Forward(Tensor input)
        {
            var x = _norm.Call(_left.Call(input).Add(_right.Call(input))).Relu().MaxPool2d(2);
            return _head.Call(x.Flatten(1));
        }
    }

    [Fact]
    public void CountsACustomModulesParametersAndMacsAsPyTorch()
    {
        var s = ModelSummary.Create(new TwoBranch(), [1, 28, 28]);
        Assert.Equal(15_802, s.TrainableParameters);
        Assert.Equal(16, s.BufferValues);
        Assert.Equal(["left", "right", "norm", "head"], s.Rows.Skip(1).Select(r => r.Name));
        Assert.Equal(8L * 28 * 28 * 9 + 8L * 28 * 28 + 1568L * 10, s.Macs);
    }

    [Fact]
    public void AModuleThatWasNeverRegisteredIsReportedLoudly()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => ModelSummary.Create(new TwoBranch(registerHead: false), [1, 28, 28]));
        Assert.Contains("TwoBranch: field '_head' holds a Linear that was never registered", ex.Message);
        ex = Assert.Throws<InvalidOperationException>(() => new Sequential(new TwoBranch(registerHead: false)).Call(Tensor.Zeros([1, 1, 28, 28])));
        Assert.Contains("TwoBranch (layer 0): field '_head'", ex.Message);
    }
}
