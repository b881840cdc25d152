using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Sharpgrad.Cli;

/// <summary>
/// Turns System.CommandLine's parse errors into the one line every other bad input gets: the option, the bad value
/// and the expected form (never a .NET type name, never the whole help).
/// </summary>
internal static class ParseErrors
{
    /// <summary>One line (without the "error: " prefix) for the first problem of <paramref name="parsed"/>.</summary>
    public static string Describe(ParseResult parsed)
    {
        var command = parsed.CommandResult.Command;
        string path = CommandPath(parsed.CommandResult);
        // a value that belongs to an option: bad, missing or one too many
        foreach (var e in parsed.Errors)
        {
            var option = e.SymbolResult switch
            {
                OptionResult o => o,
                ArgumentResult { Parent: OptionResult o } => o,
                _ => null,
            };
            if (option is null) continue;
            var tokens = option.Tokens.Select(t => t.Value).ToList();
            var o2 = option.Option;
            if (option.IdentifierToken is null)
                return $"{o2.Name}: required; expected {Form(o2)}.";
            // System.CommandLine hands an option the next word even when it is another option (--epochs --limit 256)
            if (tokens.Count == 0 || IsOptionName(command, tokens[0]))
            {
                string next = tokens.Count > 0 ? tokens[0] : "";
                return $"{o2.Name}: missing value{(next.Length > 0 ? $" (the next word, '{next}', is an option)" : "")}; expected {Form(o2)}.";
            }
            return $"{o2.Name}: '{string.Join(" ", tokens)}' is not {What(o2)}; expected {Form(o2)}.";
        }
        // a word no option or command takes
        if (parsed.UnmatchedTokens.Count > 0)
        {
            string word = parsed.UnmatchedTokens[0];
            if (word.StartsWith('-'))
            {
                var names = command.Options.Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal)).ToList();
                string hint = Closest(word, names) is { } near ? $"did you mean {near}? " : "";
                return $"{word}: unknown option for `{path}`; {hint}`{path} --help` lists the options.";
            }
            if (command.Subcommands.Count > 0)
                return UnknownCommand(word, command, path);
            // the example is one of this command's own options that takes a value, with its default where it has one
            var valued = command.Options.Where(o => !o.Hidden && o.Name.StartsWith("--", StringComparison.Ordinal) && ValueType(o) != typeof(bool)).ToList();
            string example = valued.FirstOrDefault(o => o.HasDefaultValue && o.GetDefaultValue() is IFormattable) is { } withDefault
                ? $", e.g. {withDefault.Name} {((IFormattable)withDefault.GetDefaultValue()!).ToString(null, CultureInfo.InvariantCulture)}"
                : valued.Count > 0 ? $", e.g. {valued[0].Name} {Placeholder(valued[0])}" : "";
            return $"'{word}': unexpected word for `{path}` (every value follows its option{example}); `{path} --help` lists the options.";
        }
        // a command left out
        if (command.Subcommands.Count > 0)
            return $"no command given; expected one of {string.Join(", ", command.Subcommands.Select(c => c.Name))} (`{path} --help` describes them).";
        // anything else: System.CommandLine's own words, without .NET type names
        return System.Text.RegularExpressions.Regex.Replace(parsed.Errors[0].Message, @"'?System\.\w+'?", "a value");
    }

    /// <summary>One line for the first option given an empty value, or null when none is.</summary>
    public static string? EmptyValue(ParseResult parsed)
    {
        var option = parsed.CommandResult.Children.OfType<OptionResult>()
            .FirstOrDefault(o => o.IdentifierToken is not null && o.Tokens.Any(t => t.Value.Length == 0));
        return option is null ? null : $"{option.Option.Name}: the value is empty; expected {Form(option.Option)}.";
    }

    private static string UnknownCommand(string word, Command command, string path)
    {
        var names = command.Subcommands.Select(c => c.Name).ToList();
        string hint = Closest(word, names) is { } near ? $" (did you mean {near}?)" : "";
        return $"'{word}': unknown command; expected one of {string.Join(", ", names)}{hint}; `{path} --help` describes them.";
    }

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
            if (r is CommandResult c) names.Insert(0, c.Command.Name);
        return string.Join(" ", names);
    }

    private static bool IsOptionName(Command command, string word) =>
        command.Options.Any(o => o.Name == word || o.Aliases.Contains(word));

    private static Type ValueType(Option o) => Nullable.GetUnderlyingType(o.ValueType) ?? o.ValueType;

    /// <summary>What a value of the option is, in words.</summary>
    private static string What(Option o) => ValueType(o) switch
    {
        var t when t == typeof(int) || t == typeof(long) => "a whole number",
        var t when t == typeof(ulong) || t == typeof(uint) => "a whole number from 0 up",
        var t when t == typeof(double) || t == typeof(float) => "a number",
        var t when t == typeof(bool) => "true or false",
        _ => "a value it takes",
    };

    private static string Placeholder(Option o) => ValueType(o) switch
    {
        var t when t == typeof(int) || t == typeof(long) || t == typeof(ulong) || t == typeof(uint) => "N",
        var t when t == typeof(double) || t == typeof(float) => "X",
        _ when o.Name == "--checkpoint" => "RUN_FOLDER",
        _ when o.Name == "--data" => "KIND [DIR]",
        _ => "VALUE",
    };

    /// <summary>The expected form: the kind of value and an example, or the choices the description lists.</summary>
    private static string Form(Option o)
    {
        var t = ValueType(o);
        bool numeric = t == typeof(int) || t == typeof(long) || t == typeof(ulong) || t == typeof(uint) || t == typeof(double) || t == typeof(float);
        if (numeric)
        {
            string example = o.HasDefaultValue && o.GetDefaultValue() is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture)
                : t == typeof(double) || t == typeof(float) ? "0.5" : "1000";
            return $"e.g. {o.Name} {example} ({What(o)})";
        }
        if (t == typeof(bool)) return $"{o.Name} alone (a switch)";
        // string options: their description names the choices ("sgd | rmsprop | adam | adamw.")
        string d = o.Description ?? "";
        int colon = d.IndexOf(": ", StringComparison.Ordinal);
        string choices = d.Contains(" | ", StringComparison.Ordinal) ? (colon >= 0 && colon < d.IndexOf(" | ", StringComparison.Ordinal) ? d[(colon + 2)..] : d) : "";
        return choices.Length > 0 ? $"{o.Name} {choices.TrimEnd('.')}" : $"{o.Name} {Placeholder(o)} ({d.TrimEnd('.')})";
    }

    /// <summary>The candidate within two edits of <paramref name="word"/>, if there is one.</summary>
    private static string? Closest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = 3;
        foreach (var c in candidates)
        {
            int d = Distance(word, c);
            if (d < bestDistance) (best, bestDistance) = (c, d);
        }
        return best;
    }

    private static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
