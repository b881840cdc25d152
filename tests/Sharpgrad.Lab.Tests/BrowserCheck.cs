using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace Sharpgrad.Lab.Tests;

/// <summary>
/// Opens a report page in headless Chromium and says whether it loaded cleanly. Two independent signals:
/// <list type="number">
/// <item>a small check script, placed first in a copy of the page and allowed by adding its SHA-256 hash to the page's
/// Content-Security-Policy (so the page's own policy still blocks everything else), records resource-load errors,
/// policy violations, script errors and console.error calls, and on the load event counts the images and whether each
/// decoded (complete and naturalWidth &gt; 0); it writes that as JSON into the DOM, which --dump-dom prints;</item>
/// <item>Chromium runs with --enable-logging=stderr --v=0, which prints every console message of the page (a blocked
/// resource, a failed load, a script error) as an "INFO:CONSOLE" line on stderr; any such line is a problem.</item>
/// </list>
/// </summary>
internal static class BrowserCheck
{
    public sealed record Result(int Images, int MinWidth, IReadOnlyList<string> Problems)
    {
        public int Width => MinWidth;
    }

    private const string Script = """
        (function () {
          var problems = [];
          window.addEventListener('error', function (e) {
            var t = e.target;
            problems.push(t && t !== window ? 'failed to load ' + (t.tagName || '') + ' ' + (t.currentSrc || t.src || t.href || '').slice(0, 80) : 'script error: ' + e.message);
          }, true);
          document.addEventListener('securitypolicyviolation', function (e) { problems.push('blocked by the policy: ' + e.violatedDirective + ' ' + e.blockedURI); });
          var error = console.error;
          console.error = function () { problems.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); error.apply(console, arguments); };
          window.addEventListener('load', function () {
            var images = document.images, minWidth = -1;
            for (var i = 0; i < images.length; i++) {
              var img = images[i];
              if (!img.complete || img.naturalWidth === 0) problems.push('image ' + i + ' (' + img.alt + ') did not decode');
              minWidth = minWidth < 0 ? img.naturalWidth : Math.min(minWidth, img.naturalWidth);
            }
            var out = document.createElement('pre');
            out.id = 'lab-check';
            out.textContent = JSON.stringify({ images: images.length, minWidth: minWidth, problems: problems });
            document.body.appendChild(out);
          });
        })();
        """;

    /// <summary>The Chromium executable, or a failure that says how to install it.</summary>
    public static string FindChromium()
    {
        foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome", "google-chrome-stable" })
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                var p = Path.Combine(dir, name);
                if (File.Exists(p)) return p;
            }
        throw FailException.ForFailure("The report's browser check needs headless Chromium, and none is on PATH (chromium, chromium-browser, google-chrome): install it with `apt-get install -y chromium` (Debian; .ci/run does this), then rerun the tests.");
    }

    public static Result Load(string page)
    {
        var chromium = FindChromium();
        var work = Path.Combine(Path.GetTempPath(), "sharpgrad-browser-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            var html = File.ReadAllText(page);
            var hash = Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(Script)));
            var policy = System.Net.WebUtility.HtmlEncode(LabReport.ContentSecurityPolicy);
            if (!html.Contains(policy, StringComparison.Ordinal)) return new Result(0, 0, [$"the page does not carry the policy {LabReport.ContentSecurityPolicy}"]);
            html = html.Replace(policy, policy + System.Net.WebUtility.HtmlEncode($"; script-src 'sha256-{hash}'"), StringComparison.Ordinal);
            int head = html.IndexOf("<head>", StringComparison.Ordinal);
            if (head < 0) return new Result(0, 0, ["the page has no <head>"]);
            // after the policy's meta element, before anything that could load
            int afterPolicy = html.IndexOf('>', html.IndexOf("Content-Security-Policy", StringComparison.Ordinal)) + 1;
            html = html.Insert(afterPolicy, "\n<script>" + Script + "</script>");
            var copy = Path.Combine(work, Path.GetFileName(page));
            File.WriteAllText(copy, html);

            var psi = new ProcessStartInfo(chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-background-networking",
                "--enable-logging=stderr", "--v=0", "--user-data-dir=" + Path.Combine(work, "profile"), "--dump-dom", new Uri(copy).AbsoluteUri,
            }) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(90_000))
            {
                p.Kill(entireProcessTree: true);
                return new Result(0, 0, ["chromium did not finish within 90 s"]);
            }
            p.WaitForExit();
            var problems = new List<string>();
            foreach (var line in stderr.Result.Split('\n'))
                if (line.Contains(":CONSOLE", StringComparison.Ordinal)) problems.Add("console: " + line.Trim());
            var m = Regex.Match(stdout.Result, "<pre id=\"lab-check\">(.*?)</pre>", RegexOptions.Singleline);
            if (!m.Success)
            {
                problems.Add($"the check script gave no result (chromium exit code {p.ExitCode}); stderr: {Tail(stderr.Result)}");
                return new Result(0, 0, problems);
            }
            using var doc = JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(m.Groups[1].Value));
            problems.AddRange(doc.RootElement.GetProperty("problems").EnumerateArray().Select(x => x.GetString()!));
            return new Result(doc.RootElement.GetProperty("images").GetInt32(), doc.RootElement.GetProperty("minWidth").GetInt32(), problems);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static string Tail(string s) => s.Length <= 600 ? s : s[^600..];
}
