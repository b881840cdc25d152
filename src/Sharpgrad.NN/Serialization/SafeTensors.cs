using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sharpgrad.NN;

/// <summary>
/// The safetensors format (8-byte little-endian header size, a JSON header of dtype/shape/data_offsets per tensor
/// and optional string metadata, then the raw little-endian data), readable by PyTorch's safetensors package.
/// Tensors named *num_batches_tracked are stored as I64, as PyTorch keeps them.
/// </summary>
/// <remarks>
/// <see cref="Read"/> checks a file as the reference implementation (huggingface/safetensors) does, and a little
/// more, before it allocates any tensor: the header size is at most <see cref="MaxHeaderSize"/> bytes and within the
/// file; the header is valid UTF-8 and one JSON object without duplicate keys; every entry but "__metadata__" is an
/// object with a known "dtype", a "shape" of non-negative integers and "data_offsets" of exactly two non-negative
/// integers, begin &lt;= end; the element count times the dtype's size, computed without overflow, is the range's
/// length; the ranges, sorted, start at 0, neither overlap nor leave gaps, and end exactly at the end of the file;
/// "__metadata__", when present, maps strings to strings. Every failure is a <see cref="DataException"/> with one
/// line naming the file and, where there is one, the tensor.
/// </remarks>
public static class SafeTensors
{
    /// <summary>The largest header accepted, in bytes (the reference implementation's limit, 100 MB).</summary>
    public const long MaxHeaderSize = 100_000_000;

    // bits per element of every dtype the reference implementation knows
    private static readonly Dictionary<string, int> DTypeBits = new(StringComparer.Ordinal)
    {
        ["BOOL"] = 8, ["F4"] = 4, ["F6_E2M3"] = 6, ["F6_E3M2"] = 6, ["U8"] = 8, ["I8"] = 8, ["F8_E5M2"] = 8, ["F8_E4M3"] = 8,
        ["F8_E8M0"] = 8, ["I16"] = 16, ["U16"] = 16, ["F16"] = 16, ["BF16"] = 16, ["I32"] = 32, ["U32"] = 32, ["F32"] = 32,
        ["C64"] = 64, ["F64"] = 64, ["I64"] = 64, ["U64"] = 64,
    };

    // the dtypes Read converts to a Sharpgrad tensor (floats to float32 or float64, integers and BOOL to float64)
    private static readonly string[] Loadable = ["F32", "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL"];

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/> atomically (a temporary file, then a rename).</summary>
    /// <exception cref="ArgumentException">
    /// A duplicate tensor name, a tensor named "__metadata__", a name or metadata entry that is not valid Unicode, a null
    /// metadata value, or a header over <see cref="MaxHeaderSize"/> bytes: what <see cref="Read"/> would refuse.
    /// </exception>
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata)
            {
                CheckText(k, "metadata key");
                if (v is null) throw new ArgumentException($"SafeTensors.Write: metadata {Quote(k)} is null; values must be strings.", nameof(metadata));
                CheckText(v, $"metadata value of {Quote(k)}");
                meta[k] = v;
            }
            header["__metadata__"] = meta;
        }
        var names = new HashSet<string>(StringComparer.Ordinal);
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, t) in list)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
            CheckText(name, "tensor name");
            if (name == "__metadata__") throw new ArgumentException("SafeTensors.Write: a tensor cannot be named \"__metadata__\" (the header's metadata key).", nameof(tensors));
            if (!names.Add(name)) throw new ArgumentException($"SafeTensors.Write: tensor {Quote(name)} is given twice.", nameof(tensors));
            byte[] data = Encode(name, t, out string dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + data.Length),
            };
            offset += data.Length;
            blobs.Add(data);
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int pad = (8 - json.Length % 8) % 8;
        if (json.Length + pad > MaxHeaderSize)
            throw new ArgumentException($"SafeTensors.Write: the header would be {json.Length + pad} bytes, over the format's {MaxHeaderSize}-byte limit.", nameof(tensors));
        var headerBytes = new byte[json.Length + pad];
        json.CopyTo(headerBytes, 0);
        for (int i = json.Length; i < headerBytes.Length; i++) headerBytes[i] = (byte)' ';

        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var tmp = Path.Combine(dir, "." + Path.GetFileName(path) + "." + Environment.ProcessId + ".tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)headerBytes.Length);
                fs.Write(len);
                fs.Write(headerBytes);
                WriteFault.Value?.Invoke(tmp);
                foreach (var b in blobs) fs.Write(b);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>
    /// A fault-injection point for tests (scoped to the calling flow): called with the temporary file's path after
    /// the header is written and before the tensors are, so a test can throw the IOException of a full disk or a
    /// read-only folder where a real write would fail.
    /// </summary>
    internal static readonly AsyncLocal<Action<string>?> WriteFault = new();

    private static void CheckText(string text, string what)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            StrictUtf8.GetByteCount(text);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"SafeTensors.Write: {what} {Quote(text)} is not valid Unicode (a lone surrogate).", e);
        }
    }

    private static byte[] Encode(string name, Tensor t, out string dtype)
    {
        if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal))
        {
            dtype = "I64";
            var v = t.ToDoubleArray();
            var b = new byte[v.Length * 8];
            for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(i * 8), (long)v[i]);
            return b;
        }
        var c = t.Contiguous();
        if (t.DType == DType.Float32)
        {
            dtype = "F32";
            return MemoryMarshal.AsBytes(c.AsReadOnlySpan<float>()).ToArray();
        }
        dtype = "F64";
        return MemoryMarshal.AsBytes(c.AsReadOnlySpan<double>()).ToArray();
    }

    /// <summary>One header entry, as read and checked.</summary>
    private sealed record Entry(string Name, string DType, long[] Shape, long Begin, long End);

    /// <summary>
    /// Reads every tensor and the metadata. F32, F16 and BF16 load as float32; F64, the integer types and BOOL as
    /// float64. The whole file is checked (see the remarks on <see cref="SafeTensors"/>) before any tensor is allocated.
    /// </summary>
    /// <exception cref="DataException">The file cannot be read or is not a valid safetensors file (one line naming the file and the tensor).</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        FileStream fs;
        try
        {
            fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new DataException($"{path}: cannot read ({OneLine(e.Message)}).", e);
        }
        using (fs)
        {
            try
            {
                return ReadFrom(path, fs);
            }
            catch (IOException e)
            {
                throw new DataException($"{path}: cannot read ({OneLine(e.Message)}).", e);
            }
        }
    }

    private static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) ReadFrom(string path, FileStream fs)
    {
        long length = fs.Length;
        if (length < 8) throw Error(path, $"not a safetensors file: {length} bytes, shorter than the 8-byte header size.");
        Span<byte> size = stackalloc byte[8];
        fs.ReadExactly(size);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(size);
        if (n > MaxHeaderSize) throw Error(path, $"safetensors header size {n} exceeds the format's limit of {MaxHeaderSize} bytes (not a safetensors file?).");
        if (n > (ulong)(length - 8)) throw Error(path, $"safetensors header size {n} exceeds the {length - 8} bytes after the size field (the file is truncated or not a safetensors file).");
        var header = new byte[n];
        fs.ReadExactly(header);
        var (entries, meta) = ParseHeader(path, header);
        long dataLength = length - 8 - (long)n;
        Validate(path, entries, dataLength);

        // every check is done: the ranges are contiguous from 0, so the tensors are read in offset order
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var buffer = new byte[(int)Math.Min(1 << 20, Math.Max(8, dataLength))];
        foreach (var e in entries) tensors[e.Name] = ReadTensor(fs, e, buffer);
        return (tensors, meta);
    }

    private static DataException Error(string path, string message) => new($"{path}: {message}");

    private static DataException Error(string path, Entry e, string message) => new($"{path}: tensor {Quote(e.Name)} {message}");

    /// <summary>Parses the header with a streaming reader, so that duplicate keys are seen, and checks its structure.</summary>
    private static (List<Entry> Entries, Dictionary<string, string> Metadata) ParseHeader(string path, byte[] header)
    {
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw Error(path, "safetensors header is not valid UTF-8.");
        var entries = new List<Entry>();
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw Error(path, $"safetensors header is not a JSON object (it starts with {Kind(ref reader)}).");
            var keys = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string key = reader.GetString()!;
                if (!keys.Add(key)) throw Error(path, $"safetensors header has the key {Quote(key)} twice.");
                reader.Read();
                if (key == "__metadata__") ReadMetadata(path, ref reader, meta);
                else entries.Add(ReadEntry(path, key, ref reader));
            }
            if (reader.Read()) throw Error(path, "safetensors header has content after its JSON object.");
        }
        catch (JsonException e)
        {
            throw new DataException($"{path}: safetensors header is not valid JSON ({OneLine(e.Message)}).", e);
        }
        return (entries, meta);
    }

    private static void ReadMetadata(string path, ref Utf8JsonReader reader, Dictionary<string, string> meta)
    {
        if (reader.TokenType == JsonTokenType.Null) return; // the reference implementation reads null as no metadata
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Error(path, $"\"__metadata__\" must be an object mapping strings to strings, got {Kind(ref reader)}.");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            if (meta.ContainsKey(key)) throw Error(path, $"\"__metadata__\" has the key {Quote(key)} twice.");
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw Error(path, $"\"__metadata__\" entry {Quote(key)} must be a string, got {Kind(ref reader)}.");
            meta[key] = reader.GetString()!;
        }
    }

    private static Entry ReadEntry(string path, string name, ref Utf8JsonReader reader)
    {
        string q = Quote(name);
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Error(path, $"tensor {q} must be an object with \"dtype\", \"shape\" and \"data_offsets\", got {Kind(ref reader)}.");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            if (!keys.Add(key)) throw Error(path, $"tensor {q} has the key {Quote(key)} twice.");
            reader.Read();
            switch (key)
            {
                case "dtype":
                    if (reader.TokenType != JsonTokenType.String)
                        throw Error(path, $"tensor {q} has \"dtype\" {Kind(ref reader)}; expected a string, one of {string.Join(", ", DTypeBits.Keys)}.");
                    dtype = reader.GetString()!;
                    if (!DTypeBits.ContainsKey(dtype))
                        throw Error(path, $"tensor {q} has unknown dtype {Quote(dtype)}; expected one of {string.Join(", ", DTypeBits.Keys)}.");
                    break;
                case "shape":
                    shape = ReadIntegers(path, q, "shape", ref reader);
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(path, q, "data_offsets", ref reader);
                    if (offsets.Length != 2)
                        throw Error(path, $"tensor {q} has \"data_offsets\" with {offsets.Length} numbers; expected exactly two, [begin, end].");
                    break;
                default:
                    reader.Skip(); // unknown keys are ignored, as by the reference implementation
                    break;
            }
        }
        if (dtype is null) throw Error(path, $"tensor {q} has no \"dtype\".");
        if (shape is null) throw Error(path, $"tensor {q} has no \"shape\".");
        if (offsets is null) throw Error(path, $"tensor {q} has no \"data_offsets\".");
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] ReadIntegers(string path, string q, string field, ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw Error(path, $"tensor {q} has \"{field}\" {Kind(ref reader)}; expected an array of non-negative integers.");
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v) || v < 0)
                throw Error(path, $"tensor {q} has {Kind(ref reader)} in \"{field}\"; expected non-negative integers below 2^63.");
            values.Add(v);
        }
        return [.. values];
    }

    /// <summary>Checks sizes and offsets against each other and the file's data section; sorts the entries by offset.</summary>
    private static void Validate(string path, List<Entry> entries, long dataLength)
    {
        foreach (var e in entries)
        {
            string shape = "[" + string.Join(",", e.Shape) + "]";
            if (e.End < e.Begin) throw Error(path, e, $"has data_offsets [{e.Begin}, {e.End}]: the end is before the begin.");
            long bytes;
            try
            {
                long count = 1;
                foreach (long d in e.Shape) count = checked(count * d);
                long bits = checked(count * DTypeBits[e.DType]);
                if (bits % 8 != 0) throw Error(path, e, $"has shape {shape} of {e.DType}: {count} elements are not a whole number of bytes.");
                bytes = bits / 8;
            }
            catch (OverflowException)
            {
                throw Error(path, e, $"has shape {shape} of {e.DType}, whose size in bytes overflows 64 bits.");
            }
            if (e.End - e.Begin != bytes)
                throw Error(path, e, $"has data_offsets [{e.Begin}, {e.End}] ({e.End - e.Begin} bytes), but {e.DType} of shape {shape} takes {bytes} bytes.");
            if (e.End > dataLength)
                throw Error(path, e, $"has data_offsets [{e.Begin}, {e.End}] past the end of the data section ({dataLength} bytes): the file is truncated or the header is wrong.");
        }
        entries.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End != b.End ? a.End.CompareTo(b.End) : string.CompareOrdinal(a.Name, b.Name));
        long position = 0;
        Entry? previous = null;
        foreach (var e in entries)
        {
            if (e.Begin < position)
                throw Error(path, e, $"has data_offsets [{e.Begin}, {e.End}] overlapping tensor {Quote(previous!.Name)}'s [{previous.Begin}, {previous.End}]; each byte belongs to one tensor.");
            if (e.Begin > position)
                throw Error(path, e, $"has data_offsets [{e.Begin}, {e.End}], leaving bytes [{position}, {e.Begin}) {(previous is null ? "at the start of the data section" : $"after tensor {Quote(previous.Name)}")} unused; the tensors must cover the data section without gaps.");
            position = e.End;
            previous = e;
        }
        if (position != dataLength)
            throw Error(path, $"{dataLength - position} trailing bytes after the {(previous is null ? "header (there are no tensors)" : $"last tensor, {Quote(previous.Name)}")}: the data section is {dataLength} bytes, the tensors cover {position}.");

        // what Sharpgrad can hold: supported dtypes, int sizes and array lengths
        foreach (var e in entries)
        {
            if (!Loadable.Contains(e.DType))
                throw Error(path, e, $"has dtype {e.DType}, which Sharpgrad cannot load; supported are {string.Join(", ", Loadable)}.");
            long count = e.Shape.Aggregate(1L, (a, d) => a * d);
            if (e.Shape.Any(d => d > int.MaxValue) || count > Array.MaxLength)
                throw Error(path, e, $"has shape [{string.Join(",", e.Shape)}], too large for a Sharpgrad tensor (at most {Array.MaxLength} elements, sizes below 2^31).");
        }
    }

    private static Tensor ReadTensor(FileStream fs, Entry e, byte[] buffer)
    {
        int count = (int)e.Shape.Aggregate(1L, (a, d) => a * d);
        int[] shape = [.. e.Shape.Select(d => (int)d)];
        int width = DTypeBits[e.DType] / 8;
        bool single = e.DType is "F32" or "F16" or "BF16";
        float[]? f = single ? new float[count] : null;
        double[]? d = single ? null : new double[count];
        int perChunk = buffer.Length / width;
        for (int start = 0; start < count; start += perChunk)
        {
            int k = Math.Min(perChunk, count - start);
            var bytes = buffer.AsSpan(0, k * width);
            fs.ReadExactly(bytes);
            switch (e.DType)
            {
                case "F32": MemoryMarshal.Cast<byte, float>(bytes).CopyTo(f.AsSpan(start)); break;
                case "F16": for (int i = 0; i < k; i++) f![start + i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(2 * i)..]); break;
                case "BF16": for (int i = 0; i < k; i++) f![start + i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) << 16); break;
                case "F64": MemoryMarshal.Cast<byte, double>(bytes).CopyTo(d.AsSpan(start)); break;
                case "I64": for (int i = 0; i < k; i++) d![start + i] = BinaryPrimitives.ReadInt64LittleEndian(bytes[(8 * i)..]); break;
                case "U64": for (int i = 0; i < k; i++) d![start + i] = BinaryPrimitives.ReadUInt64LittleEndian(bytes[(8 * i)..]); break;
                case "I32": for (int i = 0; i < k; i++) d![start + i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]); break;
                case "U32": for (int i = 0; i < k; i++) d![start + i] = BinaryPrimitives.ReadUInt32LittleEndian(bytes[(4 * i)..]); break;
                case "I16": for (int i = 0; i < k; i++) d![start + i] = BinaryPrimitives.ReadInt16LittleEndian(bytes[(2 * i)..]); break;
                case "U16": for (int i = 0; i < k; i++) d![start + i] = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]); break;
                case "I8": for (int i = 0; i < k; i++) d![start + i] = (sbyte)bytes[i]; break;
                case "U8": for (int i = 0; i < k; i++) d![start + i] = bytes[i]; break;
                default: for (int i = 0; i < k; i++) d![start + i] = bytes[i] != 0 ? 1 : 0; break; // BOOL
            }
        }
        return (single ? Tensor.Wrap(f!) : Tensor.Wrap(d!)).Reshape(shape);
    }

    // the current token, for messages
    private static string Kind(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "the string " + Quote(reader.GetString()!),
        JsonTokenType.Number => "the number " + Clip(Encoding.UTF8.GetString(reader.ValueSpan)),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        JsonTokenType.None => "nothing",
        _ => reader.TokenType.ToString(),
    };

    /// <summary>A name for a one-line message: quoted, control characters escaped, long names clipped.</summary>
    internal static string Quote(string s)
    {
        var sb = new StringBuilder("'");
        foreach (char c in Clip(s))
        {
            if (char.IsControl(c) || c is '\u2028' or '\u2029') sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            else sb.Append(c);
        }
        return sb.Append('\'').ToString();
    }

    private static string Clip(string s) => s.Length <= 100 ? s : s[..100] + "...";

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
