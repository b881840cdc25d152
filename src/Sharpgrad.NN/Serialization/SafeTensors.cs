using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sharpgrad.NN.Serialization;

/// <summary>
/// The safetensors format (8-byte little-endian header size, a JSON header of dtype/shape/data_offsets per tensor
/// and optional string metadata, then the raw little-endian data), readable by PyTorch's safetensors package.
/// Tensors named *num_batches_tracked are stored as I64, as PyTorch keeps them.
/// </summary>
public static class SafeTensors
{
    /// <summary>Writes <paramref name="tensors"/> to <paramref name="path"/> atomically (a temporary file, then a rename).</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, t) in list)
        {
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
            return System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.AsReadOnlySpan<float>()).ToArray();
        }
        dtype = "F64";
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.AsReadOnlySpan<double>()).ToArray();
    }

    /// <summary>Reads every tensor (F32, F64 and I64, the last as float64) and the metadata.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Data.DataException($"{path}: cannot read ({e.Message}).", e);
        }
        if (bytes.Length < 8) throw new Data.DataException($"{path}: not a safetensors file (shorter than its 8-byte header size).");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (n > (ulong)(bytes.Length - 8)) throw new Data.DataException($"{path}: safetensors header size {n} exceeds the file size {bytes.Length}.");
        JsonObject header;
        try
        {
            header = JsonNode.Parse(bytes.AsSpan(8, (int)n))!.AsObject();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new Data.DataException($"{path}: safetensors header is not a JSON object ({e.Message}).", e);
        }
        int dataStart = 8 + (int)n;
        var tensors = new Dictionary<string, Tensor>();
        var meta = new Dictionary<string, string>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                foreach (var (k, v) in node!.AsObject()) meta[k] = v!.GetValue<string>();
                continue;
            }
            var o = node!.AsObject();
            string dtype = o["dtype"]!.GetValue<string>();
            int[] shape = o["shape"]!.AsArray().Select(x => x!.GetValue<int>()).ToArray();
            long begin = o["data_offsets"]![0]!.GetValue<long>(), end = o["data_offsets"]![1]!.GetValue<long>();
            int count = shape.Aggregate(1, (a, b) => a * b);
            int width = dtype switch { "F32" => 4, "F64" => 8, "I64" => 8, _ => throw new Data.DataException($"{path}: tensor '{name}' has dtype {dtype}; supported are F32, F64 and I64.") };
            if (begin < 0 || end < begin || dataStart + end > bytes.Length || end - begin != (long)count * width)
                throw new Data.DataException($"{path}: tensor '{name}' has data offsets [{begin}, {end}) that do not fit its shape [{string.Join(",", shape)}] or the file.");
            var span = bytes.AsSpan(dataStart + (int)begin, (int)(end - begin));
            Tensor t = dtype switch
            {
                "F32" => Tensor.Wrap(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(span).ToArray()),
                "F64" => Tensor.Wrap(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(span).ToArray()),
                _ => Tensor.Wrap(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(span).ToArray().Select(v => (double)v).ToArray()),
            };
            tensors[name] = t.Reshape(shape);
        }
        return (tensors, meta);
    }
}
