using Sharpgrad.NN;
using Sharpgrad.Workflows;
using System.CommandLine;

namespace Sharpgrad.Cli;

/// <summary>`sharpgrad inspect`: the sparsity report and a weight histogram per layer (L1 makes exact zeros, L2 only shrinks).</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Run folder written by sharpgrad train or prune (or a file in it).", Required = true };
        var outDir = new Option<string?>("--out") { Description = "Where to write weights.png (default: the checkpoint folder)." };
        var cmd = new Command("inspect", "Print the sparsity report and write a histogram of each layer's weights (weights.png).") { checkpoint, outDir };
        cmd.SetAction(r => SharpgradCli.Guard(r.InvocationConfiguration.Error, () =>
        {
            var output = r.InvocationConfiguration.Output;
            string ckpt = SharpgradCli.RunFolder(r.GetValue(checkpoint)!);
            var loaded = RunFiles.Load(ckpt);
            output.Write(SparsityReport.Of(loaded.Model).ToText());
            var dir = r.GetValue(outDir) ?? ckpt;
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, "weights.png");
            Plots.WeightHistograms(path, Pruner.PrunableWeights(loaded.Model).Select(p => (p.Name, p.Parameter.Data.ToArray())).ToList());
            output.WriteLine($"wrote {path}");
            return 0;
        }));
        return cmd;
    }
}
