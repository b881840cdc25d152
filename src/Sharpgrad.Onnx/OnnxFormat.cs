namespace Sharpgrad.Onnx;

/// <summary>The ONNX versions Sharpgrad writes and reads (ONNX 1.12's onnx.proto: IR version 8, opset 17).</summary>
public static class OnnxFormat
{
    /// <summary>The IR version written into exported files.</summary>
    public const long IrVersion = 8;

    /// <summary>The default-domain opset written into exported files.</summary>
    public const long Opset = 17;
}
