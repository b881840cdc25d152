using Google.Protobuf;
using Xunit;

namespace Sharpgrad.Onnx.Tests;

public sealed class ProtoTests
{
    [Fact]
    public void GeneratedClassesRoundTripAModel()
    {
        var model = new ModelProto { IrVersion = OnnxFormat.IrVersion, Graph = new GraphProto { Name = "g" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OnnxFormat.Opset });
        var again = ModelProto.Parser.ParseFrom(model.ToByteArray());
        Assert.Equal(8, again.IrVersion);
        Assert.Equal(17, again.OpsetImport[0].Version);
        Assert.Equal("g", again.Graph.Name);
    }
}
