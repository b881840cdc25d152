using Sharpgrad.NN;
using Sharpgrad.Workflows;

namespace Sharpgrad.Cli;

/// <summary>
/// The command line's names for the library's option properties: errors from the workflows name options by property
/// (<see cref="IOptionMessage"/>), and only here do they become flags.
/// </summary>
internal static class Flags
{
    private static readonly Dictionary<string, string> Special = new(StringComparer.Ordinal)
    {
        [nameof(TrainOptions.DataDir)] = "--data",
        [TrainWorkflow.OutDirOption] = "--out",
        [TrainWorkflow.ResumeDirOption] = "--resume",
        [RunFiles.OverwriteOption] = "--overwrite",
        [nameof(PruneOptions.FinetuneEpochs)] = "--finetune-epochs",
    };

    /// <summary>The flag of a property: "BatchSize" is --batch-size, "PruneWindow" --prune-window, "DataDir" --data (its second value).</summary>
    public static string Of(string property)
    {
        ArgumentNullException.ThrowIfNull(property);
        if (Special.TryGetValue(property, out var flag)) return flag;
        var sb = new System.Text.StringBuilder("--");
        for (int i = 0; i < property.Length; i++)
        {
            if (char.IsUpper(property[i]) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(property[i]));
        }
        return sb.ToString();
    }

    /// <summary>An exception's message for the command line: options named by their flags.</summary>
    public static string Message(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e is IOptionMessage m ? m.Render(Of) : e.Message;
    }
}
