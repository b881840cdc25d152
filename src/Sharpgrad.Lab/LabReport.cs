using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sharpgrad.Lab;

/// <summary>
/// The lab's self-contained HTML report: index.html (every question with its checks, status, time and link), one page
/// per question (qN.html: the question, the exam's answer, the checks, the numbers, the tables, the plots embedded as
/// PNG data: URIs, the findings), qN.json and results.json. No network: inline CSS only, no script, no external font,
/// and a Content-Security-Policy that forbids loading anything; every text is HTML-escaped.
/// </summary>
public static class LabReport
{
    /// <summary>The file that marks a folder as a lab report (so a rerun may replace it).</summary>
    public const string Marker = ".sharpgrad-lab";

    /// <summary>The policy every page carries: nothing is fetched, images come only from data: URIs.</summary>
    public const string ContentSecurityPolicy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Refuses an output folder that exists, is not empty and is not a previous lab report, or is a file.</summary>
    /// <exception cref="ArgumentException">One line naming the folder.</exception>
    internal static void CheckTarget(string outDir)
    {
        if (File.Exists(outDir))
            throw new ArgumentException($"lab: output folder '{outDir}' is a file.");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any() && !File.Exists(Path.Combine(outDir, Marker)))
            throw new ArgumentException($"lab: output folder '{outDir}' exists and is not a lab report (it has no {Marker}); choose an empty or new folder.");
    }

    /// <summary>
    /// A new empty folder beside <paramref name="outDir"/> (same file system, so publishing is a rename); staging and
    /// replaced folders that a killed run of the same report left behind are removed first.
    /// </summary>
    /// <exception cref="ArgumentException">The folder beside <paramref name="outDir"/> cannot be written (one line naming it).</exception>
    internal static string CreateStaging(string outDir)
    {
        var parent = Path.GetDirectoryName(outDir) ?? throw new ArgumentException($"lab: output folder '{outDir}' has no parent folder.");
        try
        {
            Directory.CreateDirectory(parent);
            var name = Path.GetFileName(outDir);
            // only the names this class makes (a 12-hex-digit suffix): a user's own "lab.old-mine" or ".lab.staging-x"
            // beside the report is never touched
            foreach (var stale in Directory.EnumerateDirectories(parent, "." + name + ".staging-????????????")
                .Concat(Directory.EnumerateDirectories(parent, name + ".old-????????????")).Where(IsOurs))
                Directory.Delete(stale, recursive: true);
            var staging = Path.Combine(parent, "." + name + ".staging-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(staging);
            return staging;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"lab: cannot write the report '{outDir}' (its staging folder goes beside it, in '{parent}'): {e.Message}", e);
        }
    }

    private static bool IsOurs(string dir) => Path.GetFileName(dir)[^12..].All(char.IsAsciiHexDigitLower);

    /// <summary>Replaces <paramref name="outDir"/> (if any) with the finished <paramref name="staging"/> folder.</summary>
    internal static void Publish(string staging, string outDir)
    {
        string? old = null;
        if (Directory.Exists(outDir))
        {
            old = outDir + ".old-" + Guid.NewGuid().ToString("N")[..12];
            Directory.Move(outDir, old);
        }
        Directory.Move(staging, outDir);
        if (old is not null) Directory.Delete(old, recursive: true);
    }

    /// <summary>
    /// Checks what an experiment returned before the report is written: every plot it lists is a PNG file in
    /// <paramref name="dir"/>, and no number is named twice.
    /// </summary>
    /// <exception cref="InvalidOperationException">One line naming the question and the plot or number.</exception>
    internal static void Validate(string dir, LabExperiment e, LabResult r)
    {
        Span<byte> head = stackalloc byte[4];
        foreach (var p in r.Plots)
        {
            var path = Path.Combine(dir, p.File);
            if (Path.IsPathRooted(p.File) || p.File.Contains("..", StringComparison.Ordinal) || !File.Exists(path))
                throw new InvalidOperationException($"{e.Id}: the plot '{p.File}' is not a file in the report folder.");
            using (var f = File.OpenRead(path))
                if (f.ReadAtLeast(head, 4, throwOnEndOfStream: false) < 4 || head[0] != 0x89 || head[1] != (byte)'P' || head[2] != (byte)'N' || head[3] != (byte)'G')
                    throw new InvalidOperationException($"{e.Id}: the plot '{p.File}' is not a PNG file.");
        }
        var twice = r.Numbers.GroupBy(n => n.Key).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new InvalidOperationException($"{e.Id}: the number '{twice.Key}' is reported twice.");
    }

    /// <summary>Writes every page and JSON file of the report into <paramref name="dir"/> (where the plots already are).</summary>
    /// <exception cref="InvalidOperationException">A plot an experiment listed was not written, or a number named twice (see <see cref="Validate"/>).</exception>
    internal static void Write(string dir, IReadOnlyList<LabOutcome> outcomes, LabContext context)
    {
        var all = new JsonArray();
        for (int i = 0; i < outcomes.Count; i++)
        {
            var o = outcomes[i];
            var json = ToJson(o);
            File.WriteAllText(Path.Combine(dir, o.Experiment.Id + ".json"), json.ToJsonString(JsonOptions));
            all.Add(json);
            File.WriteAllText(Path.Combine(dir, o.Experiment.Id + ".html"),
                Page(dir, o, i > 0 ? outcomes[i - 1].Experiment : null, i + 1 < outcomes.Count ? outcomes[i + 1].Experiment : null));
        }
        var results = new JsonObject
        {
            ["format"] = "sharpgrad-lab/1",
            ["quick"] = context.Quick,
            ["seed"] = context.Seed,
            ["passed"] = outcomes.All(o => o.Passed),
            ["seconds"] = outcomes.Sum(o => o.Result.Seconds),
            ["questions"] = all,
        };
        File.WriteAllText(Path.Combine(dir, "results.json"), results.ToJsonString(JsonOptions));
        File.WriteAllText(Path.Combine(dir, "index.html"), Index(outcomes, context));
        File.WriteAllText(Path.Combine(dir, Marker), "sharpgrad lab report\n");
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private static JsonObject ToJson(LabOutcome o)
    {
        var e = o.Experiment;
        var numbers = new JsonObject();
        foreach (var (name, value) in o.Result.Numbers)
            numbers[name] = double.IsFinite(value) ? JsonValue.Create(value) : JsonValue.Create(value.ToString(Inv));
        return new JsonObject
        {
            ["id"] = e.Id,
            ["number"] = e.Number,
            ["title"] = e.Title,
            ["question"] = e.Question,
            ["answer"] = e.Answer,
            ["passed"] = o.Passed,
            ["seconds"] = Math.Round(o.Result.Seconds, 3),
            ["numbers"] = numbers,
            ["checks"] = new JsonArray([.. o.Result.Checks.Select(c => (JsonNode)new JsonObject
            {
                ["name"] = c.Name, ["expected"] = c.Expected, ["measured"] = c.Measured, ["passed"] = c.Passed,
            })]),
            ["tables"] = new JsonArray([.. o.Result.Tables.Select(t => (JsonNode)new JsonObject
            {
                ["caption"] = t.Caption,
                ["header"] = new JsonArray([.. t.Header.Select(h => (JsonNode?)JsonValue.Create(h))]),
                ["rows"] = new JsonArray([.. t.Rows.Select(r => (JsonNode)new JsonArray([.. r.Select(c => (JsonNode?)JsonValue.Create(c))]))]),
            })]),
            ["plots"] = new JsonArray([.. o.Result.Plots.Select(p => (JsonNode)new JsonObject { ["file"] = p.File, ["caption"] = p.Caption })]),
            ["findings"] = new JsonArray([.. o.Result.Findings.Select(f => (JsonNode?)JsonValue.Create(f))]),
            ["error"] = o.Error is null ? null : o.Error.GetType().Name + ": " + o.Error.Message,
        };
    }

    /// <summary>A number as the pages show it: integers with thousands separators, others to 6 significant digits.</summary>
    public static string FormatNumber(double v) =>
        double.IsFinite(v) && Math.Abs(v) < 1e15 && v == Math.Round(v) ? v.ToString("N0", Inv) : v.ToString("G6", Inv);

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    private static string Status(LabOutcome o) => o.Error is not null ? "error" : o.Passed ? "passed" : "failed";

    private static string Head(string title) => $"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="{E(ContentSecurityPolicy)}">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{E(title)}</title>
        <style>{Css}</style>
        </head>
        <body>
        """;

    private const string Css = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#1d1d1f;line-height:1.45}
        h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
        nav{font-size:.9em;color:#555}nav a{margin-right:1em}
        table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
        th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
        .passed{color:#0a6b2d;font-weight:600}.failed,.error{color:#b00020;font-weight:600}
        .answer{background:#f5f8ff;border-left:4px solid #4a6fd8;padding:.5em 1em}
        figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.9em;color:#444}
        pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}
        """;

    private static string Index(IReadOnlyList<LabOutcome> outcomes, LabContext context)
    {
        var sb = new StringBuilder(Head("Sharpgrad exam lab"));
        int passed = outcomes.Count(o => o.Passed);
        sb.Append(Inv, $"<h1>Sharpgrad exam lab</h1>\n<p>{passed} of {outcomes.Count} questions passed all their checks; ");
        sb.Append(Inv, $"{E(context.Quick ? "quick run" : "full run")}, seed {context.Seed}, {outcomes.Sum(o => o.Result.Seconds):F1} s of experiments.</p>\n");
        sb.Append("<table>\n<tr><th>#</th><th>question</th><th>checks</th><th>status</th><th>time</th></tr>\n");
        foreach (var o in outcomes)
        {
            var e = o.Experiment;
            sb.Append(Inv, $"<tr><td>{E(e.Id)}</td><td><a href=\"{E(e.Id)}.html\">{E(e.Title)}</a></td>");
            sb.Append(Inv, $"<td class=\"num\">{o.Result.Checks.Count(c => c.Passed)}/{o.Result.Checks.Count}</td>");
            sb.Append(Inv, $"<td class=\"{Status(o)}\">{Status(o)}</td><td class=\"num\">{o.Result.Seconds:F1} s</td></tr>\n");
        }
        sb.Append("</table>\n<p>Each page has the question, the exam's answer, the checks of the measurements against it, the numbers, the plots and what they show. The numbers are also in <a href=\"results.json\">results.json</a>.</p>\n</body>\n</html>\n");
        return sb.ToString();
    }

    private static string Page(string dir, LabOutcome o, LabExperiment? previous, LabExperiment? next)
    {
        var e = o.Experiment;
        var r = o.Result;
        var sb = new StringBuilder(Head($"{e.Id.ToUpperInvariant()}: {e.Title}"));
        sb.Append("<nav><a href=\"index.html\">all questions</a>");
        if (previous is not null) sb.Append(Inv, $"<a href=\"{E(previous.Id)}.html\">&larr; {E(previous.Id)}</a>");
        if (next is not null) sb.Append(Inv, $"<a href=\"{E(next.Id)}.html\">{E(next.Id)} &rarr;</a>");
        sb.Append("</nav>\n");
        sb.Append(Inv, $"<h1>{E(e.Id.ToUpperInvariant())}: {E(e.Title)}</h1>\n");
        sb.Append(Inv, $"<p><span class=\"{Status(o)}\">{Status(o)}</span>: {r.Checks.Count(c => c.Passed)} of {r.Checks.Count} checks passed, {r.Seconds:F1} s.</p>\n");
        sb.Append(Inv, $"<h2>Question</h2>\n<p>{E(e.Question)}</p>\n<h2>The exam's answer</h2>\n<p class=\"answer\">{E(e.Answer)}</p>\n");
        if (o.Error is not null)
            sb.Append(Inv, $"<h2>Error</h2>\n<p class=\"error\">The experiment stopped with {E(o.Error.GetType().Name)}: {E(o.Error.Message)}</p>\n<pre>{E(o.Error.ToString())}</pre>\n");
        if (r.Findings.Count > 0)
        {
            sb.Append("<h2>What the numbers show</h2>\n");
            foreach (var f in r.Findings) sb.Append(Inv, $"<p>{E(f)}</p>\n");
        }
        if (r.Checks.Count > 0)
        {
            sb.Append("<h2>Checks against the answer</h2>\n<table>\n<tr><th>check</th><th>expected</th><th>measured</th><th>result</th></tr>\n");
            foreach (var c in r.Checks)
                sb.Append(Inv, $"<tr><td>{E(c.Name)}</td><td>{E(c.Expected)}</td><td>{E(c.Measured)}</td><td class=\"{(c.Passed ? "passed" : "failed")}\">{(c.Passed ? "pass" : "fail")}</td></tr>\n");
            sb.Append("</table>\n");
        }
        if (r.Plots.Count > 0) sb.Append("<h2>Plots</h2>\n");
        Validate(dir, e, r);
        foreach (var p in r.Plots)
        {
            var png = File.ReadAllBytes(Path.Combine(dir, p.File));
            sb.Append(Inv, $"<figure><img alt=\"{E(p.Caption)}\" src=\"data:image/png;base64,{Convert.ToBase64String(png)}\">");
            sb.Append(Inv, $"<figcaption>{E(p.Caption)} (<a href=\"{E(Uri.EscapeDataString(p.File))}\">{E(p.File)}</a>)</figcaption></figure>\n");
        }
        if (r.Numbers.Count > 0)
        {
            sb.Append(Inv, $"<h2>Measured numbers</h2>\n<table>\n<tr><th>name</th><th>value</th></tr>\n");
            foreach (var (name, value) in r.Numbers)
                sb.Append(Inv, $"<tr><td>{E(name)}</td><td class=\"num\">{E(FormatNumber(value))}</td></tr>\n");
            sb.Append(Inv, $"</table>\n<p>Also in <a href=\"{E(e.Id)}.json\">{E(e.Id)}.json</a>.</p>\n");
        }
        foreach (var t in r.Tables)
        {
            sb.Append(Inv, $"<h2>{E(t.Caption)}</h2>\n<table>\n<tr>");
            foreach (var h in t.Header) sb.Append(Inv, $"<th>{E(h)}</th>");
            sb.Append("</tr>\n");
            foreach (var row in t.Rows)
            {
                sb.Append("<tr>");
                foreach (var c in row) sb.Append(Inv, $"<td{(LooksNumeric(c) ? " class=\"num\"" : "")}>{E(c)}</td>");
                sb.Append("</tr>\n");
            }
            sb.Append("</table>\n");
        }
        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }

    // right-align cells that are numbers (with their arithmetic or unit symbols), not labels such as "0 T-shirt/top"
    private static bool LooksNumeric(string? s) =>
        !string.IsNullOrEmpty(s) && (char.IsDigit(s[0]) || (s.Length > 1 && (s[0] == '-' || s[0] == '+') && char.IsDigit(s[1])))
        && s.All(c => !char.IsLetter(c) || c is 'e' or 'E');
}
