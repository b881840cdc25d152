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
