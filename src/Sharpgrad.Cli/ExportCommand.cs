using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Sharpgrad.NN;
using Sharpgrad.Workflows;
using Sharpgrad.Onnx;

namespace Sharpgrad.Cli;

/// <summary>`sharpgrad export`: a trained run's model as an ONNX file.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Run folder written by sharpgrad train or prune (or a file in it).", Required = true };
        var output = new Option<string?>("--out") { Description = "The .onnx file to write (default: RUN/model.onnx)." };
        var cmd = new Command("export", $"Export a trained model to ONNX (opset {OnnxFormat.Opset}, evaluation mode, dynamic batch; initializers named as the state_dict).") { checkpoint, output };
        cmd.SetAction(r => SharpgradCli.Guard(r.InvocationConfiguration.Error, () =>
        {
            var dir = SharpgradCli.RunFolder(r.GetValue(checkpoint)!);
            var loaded = RunFiles.Load(dir);
            var path = r.GetValue(output) ?? Path.Combine(dir, "model.onnx");
            var metadata = new Dictionary<string, string>
            {
                ["classes"] = new JsonArray([.. loaded.Classes.Select(c => (JsonNode)c)]).ToJsonString(),
                ["normalization"] = new JsonObject
                {
                    ["mean"] = new JsonArray([.. loaded.Normalize.Mean.Select(v => (JsonNode)v)]),
                    ["std"] = new JsonArray([.. loaded.Normalize.Std.Select(v => (JsonNode)v)]),
                }.ToJsonString(),
            };
            try
            {
                OnnxExport.Save(loaded.Model, loaded.Input, path, metadata);
            }
            catch (NotSupportedException e)
            {
                throw new ArgumentException($"{dir}: {e.Message}", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"--out: cannot write {path} ({e.Message})", e);
            }
            var shape = string.Join("x", loaded.Input);
            r.InvocationConfiguration.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {path} ({new FileInfo(path).Length:N0} bytes): ONNX opset {OnnxFormat.Opset}, input \"{OnnxExport.InputName}\" N x {shape} float32, output \"{OnnxExport.OutputName}\" N x {loaded.Classes.Length} scores"));
            r.InvocationConfiguration.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"inputs are normalized as in training: (x - mean) / std per channel with x in [0, 1], mean [{string.Join(", ", loaded.Normalize.Mean.Select(v => v.ToString("G6", CultureInfo.InvariantCulture)))}], std [{string.Join(", ", loaded.Normalize.Std.Select(v => v.ToString("G6", CultureInfo.InvariantCulture)))}] (also in the file's metadata)"));
            return 0;
        }));
        return cmd;
    }
}
