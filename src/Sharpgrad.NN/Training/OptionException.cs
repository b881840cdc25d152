using System.Globalization;

namespace Sharpgrad.NN;

/// <summary>
/// An error message that names options by their library property names ("Lr", "BatchSize"): a front end renders the
/// names in its own terms (the command line as its flags), so the library never speaks a front end's language.
/// </summary>
public interface IOptionMessage
{
    /// <summary>The option property names the message mentions, in the order of the template's placeholders.</summary>
    IReadOnlyList<string> Options { get; }

    /// <summary>The message with each option named by <paramref name="optionName"/> (the identity gives <see cref="Exception.Message"/>).</summary>
    string Render(Func<string, string> optionName);
}

/// <summary>
/// A bad option value or combination, named by the option's property (e.g. <c>TrainOptions.Lr</c> as "Lr"). One line;
/// <see cref="IOptionMessage.Render"/> lets the command line name its flags instead.
/// </summary>
public sealed class OptionException : ArgumentException, IOptionMessage
{
    private readonly string _template;
    private readonly string[] _options;

    /// <summary>Creates the exception with a generic message.</summary>
    public OptionException() : this("an option has a bad value.") { }

    /// <summary>Creates the exception with a message that names no option.</summary>
    public OptionException(string message) : this(message, (Exception?)null) { }

    /// <summary>Creates the exception with a message that names no option, and its cause.</summary>
    public OptionException(string message, Exception? innerException) : this(Escape(message ?? ""), [], innerException) { }

    /// <summary>"<paramref name="option"/>: <paramref name="problem"/>", e.g. ("Lr", "expected a positive number, got -1.").</summary>
    public OptionException(string option, string problem, Exception? innerException = null)
        : this("{0}: " + Escape(problem ?? ""), [option ?? throw new ArgumentNullException(nameof(option))], innerException) { }

    private OptionException(string template, string[] options, Exception? innerException)
        : base(Fill(template, options, o => o), innerException)
    {
        _template = template;
        _options = options;
    }

    /// <summary>
    /// An exception whose <paramref name="template"/> names options by composite-format placeholders ({0}, {1}, ...)
    /// standing for <paramref name="options"/>; other braces are doubled, as in <see cref="string.Format(string, object?[])"/>.
    /// </summary>
    public static OptionException Format(string template, params string[] options) => Format(template, null, options);

    /// <summary>As <see cref="Format(string, string[])"/>, with the cause.</summary>
    public static OptionException Format(string template, Exception? innerException, params string[] options)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(options);
        return new OptionException(template, [.. options], innerException);
    }

    /// <summary>The first option the message names (null when it names none).</summary>
    public string? Option => _options.Length > 0 ? _options[0] : null;

    /// <inheritdoc/>
    public IReadOnlyList<string> Options => _options;

    /// <inheritdoc/>
    public string Render(Func<string, string> optionName) => Fill(_template, _options, optionName);

    /// <summary>Doubles the braces of <paramref name="text"/> so it can sit in a template.</summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal);
    }

    internal static string Fill(string template, IReadOnlyList<string> options, Func<string, string> optionName)
    {
        ArgumentNullException.ThrowIfNull(optionName);
        return string.Format(CultureInfo.InvariantCulture, template, options.Select(o => (object?)optionName(o)).ToArray());
    }
}
