using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Sharpgrad.NN.Tests.Fuzz;

/// <summary>
/// A seeded in-process mutator in the manner of libFuzzer's: byte flips, interesting values (0, -1, 2^k, 2^31 ...)
/// written as 8, 16, 32 and 64-bit integers in both byte orders, inserted, erased, duplicated and spliced ranges,
/// truncation and stacks of these; plus format-aware steps that reach past the first check: a PNG's chunk CRCs are
/// recomputed, a gzip file's content is mutated and recompressed, and JSON text gets its numbers, strings and
/// structure swapped for hostile ones.
/// </summary>
internal sealed class Mutator(ulong seed)
{
    private readonly Random _rng = new((int)(seed ^ (seed >> 32)));

    private static readonly long[] Interesting =
        [0, 1, -1, 2, 3, 4, 7, 8, 16, 32, 64, 127, 128, 255, 256, 1000, 4096, 4097, 32767, 32768, 65535, 65536,
         100_000_000, int.MaxValue, int.MinValue, 1L << 30, 1L << 31, 1L << 32, 1L << 40, long.MaxValue, long.MinValue, 0xFFFF_FFFFL];

    private static readonly string[] JsonTokens =
        ["0", "-1", "1e308", "-1e308", "1e-320", "2147483648", "9223372036854775808", "4294967296", "NaN", "\"\"", "null",
         "true", "[]", "{}", "[1]", "[[[[[[[[]]]]]]]]", "\"x\"", "1.5", "65536", "100000000", "[2000000,4,4]", "-0"];

    public int Next(int max) => _rng.Next(max);

    /// <summary>A mutation of one of <paramref name="seeds"/> for a target of format <paramref name="format"/>.</summary>
    public byte[] Mutate(IReadOnlyList<byte[]> seeds, string format)
    {
        var input = seeds[_rng.Next(seeds.Count)];
        switch (format)
        {
            case "gzip" when _rng.Next(2) == 0:
                var inner = TryGunzip(input);
                if (inner is not null) return Gzip(Bytes(inner, seeds));
                break;
            case "json" when _rng.Next(2) == 0:
                return Encoding.UTF8.GetBytes(Json(Encoding.UTF8.GetString(input)));
            case "safetensors-json" when _rng.Next(2) == 0:
                return MutateSafetensorsMetadata(input);
        }
        var result = Bytes(input, seeds);
        if (format == "png" && _rng.Next(2) == 0) FixPngCrcs(result);
        return result;
    }

    private byte[] Bytes(byte[] input, IReadOnlyList<byte[]> seeds)
    {
        var b = new List<byte>(input);
        int n = 1 + _rng.Next(_rng.Next(2) == 0 ? 2 : 8);
        for (int k = 0; k < n; k++) Step(b, seeds);
        return [.. b];
    }

    private void Step(List<byte> b, IReadOnlyList<byte[]> seeds)
    {
        int len = b.Count;
        switch (_rng.Next(len == 0 ? 1 : 10))
        {
            case 0: // insert random bytes
                int at = _rng.Next(len + 1), count = 1 + _rng.Next(_rng.Next(4) == 0 ? 256 : 8);
                var bytes = new byte[count];
                _rng.NextBytes(bytes);
                b.InsertRange(at, bytes);
                break;
            case 1:
                b[_rng.Next(len)] ^= (byte)(1 << _rng.Next(8));
                break;
            case 2:
                b[_rng.Next(len)] = (byte)_rng.Next(256);
                break;
            case 3: // erase a range
                int from = _rng.Next(len);
                b.RemoveRange(from, 1 + _rng.Next(Math.Min(len - from, _rng.Next(4) == 0 ? 512 : 16)));
                break;
            case 4: // truncate
                int keep = _rng.Next(len);
                b.RemoveRange(keep, len - keep);
                break;
            case 5 or 6: // an interesting integer of 1, 2, 4 or 8 bytes in either byte order
                int size = 1 << _rng.Next(4);
                if (len < size) break;
                long v = Interesting[_rng.Next(Interesting.Length)] + (_rng.Next(4) == 0 ? _rng.Next(3) - 1 : 0);
                var buf = new byte[8];
                if (_rng.Next(2) == 0) BinaryPrimitives.WriteInt64LittleEndian(buf, v);
                else BinaryPrimitives.WriteInt64BigEndian(buf, v << (64 - 8 * size));
                int pos = _rng.Next(len - size + 1);
                for (int i = 0; i < size; i++) b[pos + i] = buf[i];
                break;
            case 7: // duplicate a range
                int s = _rng.Next(len), c = 1 + _rng.Next(Math.Min(len - s, 64));
                b.InsertRange(_rng.Next(len + 1), b.GetRange(s, c));
                break;
            case 8: // splice with another seed
                var other = seeds[_rng.Next(seeds.Count)];
                if (other.Length == 0) break;
                int o = _rng.Next(other.Length), cut = _rng.Next(len);
                b.RemoveRange(cut, len - cut);
                b.AddRange(other.AsSpan(o, Math.Min(other.Length - o, 1 + _rng.Next(256))).ToArray());
                break;
            default: // add or subtract a small number
                int p = _rng.Next(len);
                b[p] = (byte)(b[p] + _rng.Next(-16, 17));
                break;
        }
    }

    /// <summary>Swaps numbers, strings, values and keys of JSON text for hostile ones (the text stays mostly JSON).</summary>
    public string Json(string text)
    {
        var sb = new StringBuilder(text);
        int n = 1 + _rng.Next(4);
        for (int k = 0; k < n && sb.Length > 0; k++)
        {
            var spans = Tokens(sb.ToString());
            if (spans.Count == 0) break;
            var (start, length) = spans[_rng.Next(spans.Count)];
            switch (_rng.Next(4))
            {
                case 0 or 1:
                    sb.Remove(start, length).Insert(start, JsonTokens[_rng.Next(JsonTokens.Length)]);
                    break;
                case 2: // duplicate a token (a key repeated, an array grown)
                    sb.Insert(start, sb.ToString(start, length) + ",");
                    break;
                default:
                    sb.Remove(start, length);
                    break;
            }
        }
        return sb.ToString();
    }

    // numbers, strings and literals of JSON text, as (start, length)
    private static List<(int, int)> Tokens(string s)
    {
        var spans = new List<(int, int)>();
        for (int i = 0; i < s.Length;)
        {
            char ch = s[i];
            int j = i + 1;
            if (ch == '"')
            {
                while (j < s.Length && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
                j = Math.Min(j + 1, s.Length);
            }
            else if (char.IsAsciiLetterOrDigit(ch) || ch is '-' or '.')
            {
                while (j < s.Length && (char.IsAsciiLetterOrDigit(s[j]) || s[j] is '-' or '.' or '+')) j++;
            }
            else
            {
                i++;
                continue;
            }
            spans.Add((i, j - i));
            i = j;
        }
        return spans;
    }

    // a checkpoint whose "sharpgrad" metadata JSON is mutated and the file rebuilt around it (so it passes the safetensors checks)
    private byte[] MutateSafetensorsMetadata(byte[] input)
    {
        try
        {
            ulong n = BinaryPrimitives.ReadUInt64LittleEndian(input);
            var header = System.Text.Json.Nodes.JsonNode.Parse(input.AsSpan(8, (int)n))!.AsObject();
            var meta = header["__metadata__"]!.AsObject();
            var key = meta.Select(kv => kv.Key).ElementAt(_rng.Next(meta.Count));
            meta[key] = Json(meta[key]!.GetValue<string>());
            var text = Encoding.UTF8.GetBytes(header.ToJsonString());
            var result = new byte[8 + text.Length + input.Length - 8 - (int)n];
            BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)text.Length);
            text.CopyTo(result, 8);
            input.AsSpan(8 + (int)n).CopyTo(result.AsSpan(8 + text.Length));
            return result;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or NullReferenceException or ArgumentException)
        {
            return input;
        }
    }

    private static byte[]? TryGunzip(byte[] data)
    {
        try
        {
            using var gz = new GZipStream(new MemoryStream(data), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            return ms.ToArray();
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    internal static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(data);
        return ms.ToArray();
    }

    // recomputes every whole chunk's CRC so that mutations inside chunks reach the chunk parsers
    private static void FixPngCrcs(byte[] b)
    {
        long pos = 8;
        while (pos + 12 <= b.Length)
        {
            uint len = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan((int)pos));
            if (pos + 12 + len > b.Length) return;
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan((int)(pos + 8 + len)), ImageCheck.Crc32(b.AsSpan((int)pos + 4, 4 + (int)len)));
            pos += 12 + len;
        }
    }
}
