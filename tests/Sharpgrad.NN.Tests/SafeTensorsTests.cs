using Sharpgrad.NN;
using System.Buffers.Binary;
using System.Text;
using Xunit;

namespace Sharpgrad.NN.Tests;

public sealed class SafeTensorsTests
{
    /// <summary>A safetensors file from a header text (padded to 8 bytes) and <paramref name="dataBytes"/> bytes of data.</summary>
    private static byte[] File(string header, int dataBytes, ulong? sizeField = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        int pad = (8 - json.Length % 8) % 8;
        var b = new byte[8 + json.Length + pad + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(b, sizeField ?? (ulong)(json.Length + pad));
        json.CopyTo(b, 8);
        for (int i = 0; i < pad; i++) b[8 + json.Length + i] = (byte)' ';
        for (int i = 0; i < dataBytes; i++) b[8 + json.Length + pad + i] = (byte)(i * 37);
        return b;
    }

    private static string Error(TestFiles f, byte[] content)
    {
        var path = f.Path("t.safetensors");
        System.IO.File.WriteAllBytes(path, content);
        var message = Assert.Throws<DataException>(() => SafeTensors.Read(path)).Message;
        Assert.StartsWith(path + ": ", message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', message);
        return message[(path.Length + 2)..];
    }

    [Fact]
    public void WrittenFilesReadBackExactly()
    {
        using var f = new TestFiles();
        var g = new Generator(3);
        var w = Tensor.Randn([4, 3], g);
        var d = Tensor.Randn([5], g, DType.Float64);
        var path = f.Path("m.safetensors");
        SafeTensors.Write(path, [("a.weight", w), ("b", d), ("bn.num_batches_tracked", Tensor.Scalar(7, DType.Float64)),
            ("empty", Tensor.Zeros([0, 3])), ("scalar", Tensor.Scalar(2.5f))], new Dictionary<string, string> { ["format"] = "pt", ["note"] = "é\n\"x\"" });
        var (t, meta) = SafeTensors.Read(path);
        Assert.Equal(w.ToArray(), t["a.weight"].ToArray());
        Assert.Equal([4, 3], t["a.weight"].Shape);
        Assert.Equal(DType.Float64, t["b"].DType);
        Assert.Equal(d.ToDoubleArray(), t["b"].ToDoubleArray());
        Assert.Equal([7.0], t["bn.num_batches_tracked"].ToDoubleArray());
        Assert.Empty(t["bn.num_batches_tracked"].Shape);
        Assert.Equal([0, 3], t["empty"].Shape);
        Assert.Empty(t["scalar"].Shape);
        Assert.Equal("é\n\"x\"", meta["note"]);
        Assert.Equal(5, t.Count);

        // the layout PyTorch's safetensors writes: header padded with spaces to 8 bytes, offsets in order, no trailing bytes
        var bytes = System.IO.File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        Assert.Equal(8 + n + 4 * 12 + 5 * 8 + 8 + 0 + 4, bytes.Length);
    }

    [Fact]
    public void OtherDTypesLoadAsFloats()
    {
        using var f = new TestFiles();
        var data = new byte[2 + 2 + 4 + 1 + 1];
        BinaryPrimitives.WriteHalfLittleEndian(data, (Half)1.5);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2), 0x4040); // bf16 3.0
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4), -9);
        data[8] = 200;
        data[9] = 1;
        var header = "{\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[2,4]},"
            + "\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]},\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[8,9]},"
            + "\"z\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[9,10]}}";
        var b = File(header, 0).Concat(data).ToArray();
        System.IO.File.WriteAllBytes(f.Path("x"), b);
        var t = SafeTensors.Read(f.Path("x")).Tensors;
        Assert.Equal([1.5f], t["h"].ToArray());
        Assert.Equal([3.0f], t["b"].ToArray());
        Assert.Equal([-9.0], t["i"].ToDoubleArray());
        Assert.Equal([200.0], t["u"].ToDoubleArray());
        Assert.Equal([1.0], t["z"].ToDoubleArray());
    }

    private const string A = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";

    [Theory]
    // header structure
    [InlineData("[]", 0, "safetensors header is not a JSON object (it starts with an array).")]
    [InlineData("{\"a\":1}", 0, "tensor 'a' must be an object with \"dtype\", \"shape\" and \"data_offsets\", got the number 1.")]
    [InlineData("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a' has no \"dtype\".")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "tensor 'a' has no \"shape\".")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "tensor 'a' has no \"data_offsets\".")]
    [InlineData("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a' has unknown dtype 'F33'; expected one of BOOL, F4, F6_E2M3, F6_E3M2, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64.")]
    [InlineData("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a' has \"dtype\" the number 7; expected a string")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "tensor 'a' has the number -2 in \"shape\"; expected non-negative integers below 2^63.")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8, "tensor 'a' has the number 2.0 in \"shape\"")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "tensor 'a' has \"shape\" the number 2; expected an array of non-negative integers.")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8, "tensor 'a' has \"data_offsets\" with 1 numbers; expected exactly two, [begin, end].")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "tensor 'a' has \"data_offsets\" with 3 numbers")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,7]}}", 8, "tensor 'a' has the number -1 in \"data_offsets\"")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, "tensor 'a' has data_offsets [8, 0]: the end is before the begin.")]
    [InlineData("{" + A + "," + A + "}", 8, "safetensors header has the key 'a' twice.")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'a' has the key 'dtype' twice.")]
    [InlineData("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "\"__metadata__\" has the key 'k' twice.")]
    [InlineData("{\"__metadata__\":{\"k\":1}}", 0, "\"__metadata__\" entry 'k' must be a string, got the number 1.")]
    [InlineData("{\"__metadata__\":[\"k\"]}", 0, "\"__metadata__\" must be an object mapping strings to strings, got an array.")]
    [InlineData("{" + A + "} {}", 8, "safetensors header is not valid JSON")]
    [InlineData("{" + A + ",}", 8, "safetensors header is not valid JSON")]
    [InlineData("", 0, "safetensors header is not valid JSON")]
    [InlineData("{\"a\\nb\":1}", 0, "tensor 'a\\u000ab' must be an object")]
    // sizes and offsets
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "tensor 'a' has data_offsets [0, 8] (8 bytes), but F32 of shape [3] takes 12 bytes.")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "tensor 'a' has shape [4294967296,4294967296] of F32, whose size in bytes overflows 64 bits.")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627776],\"data_offsets\":[0,4398046511104]}}", 1000, "tensor 'a' has data_offsets [0, 4398046511104] past the end of the data section (1000 bytes): the file is truncated or the header is wrong.")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "tensor 'b' has data_offsets [4, 12] overlapping tensor 'a''s [0, 8]; each byte belongs to one tensor.")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'b' has data_offsets [0, 8] overlapping tensor 'a''s [0, 8]")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "tensor 'b' has data_offsets [12, 20], leaving bytes [8, 12) after tensor 'a' unused; the tensors must cover the data section without gaps.")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "tensor 'a' has data_offsets [4, 12], leaving bytes [0, 4) at the start of the data section unused")]
    [InlineData("{" + A + "}", 11, "3 trailing bytes after the last tensor, 'a': the data section is 11 bytes, the tensors cover 8.")]
    [InlineData("{}", 4, "4 trailing bytes after the header (there are no tensors): the data section is 4 bytes, the tensors cover 0.")]
    [InlineData("{" + A + "}", 7, "tensor 'a' has data_offsets [0, 8] past the end of the data section (7 bytes)")]
    [InlineData("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, "tensor 'a' has shape [3] of F4: 3 elements are not a whole number of bytes.")]
    [InlineData("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "tensor 'a' has dtype F8_E4M3, which Sharpgrad cannot load; supported are F32, F64, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL.")]
    [InlineData("{\"a\":{\"dtype\":\"U8\",\"shape\":[0,4294967296],\"data_offsets\":[0,0]}}", 0, "tensor 'a' has shape [0,4294967296], too large for a Sharpgrad tensor")]
    public void BadFilesAreRefusedWithOneLineNamingTheFileAndTensor(string header, int dataBytes, string expected)
    {
        using var f = new TestFiles();
        Assert.StartsWith(expected, Error(f, File(header, dataBytes)), StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderSizeIsBoundedAndWithinTheFile()
    {
        using var f = new TestFiles();
        Assert.Equal("not a safetensors file: 5 bytes, shorter than the 8-byte header size.", Error(f, [1, 2, 3, 4, 5]));
        Assert.Equal("safetensors header size 100000001 exceeds the format's limit of 100000000 bytes (not a safetensors file?).",
            Error(f, File("{}", 0, sizeField: 100_000_001)));
        Assert.Equal("safetensors header size 18446744073709551615 exceeds the format's limit of 100000000 bytes (not a safetensors file?).",
            Error(f, File("{}", 0, sizeField: ulong.MaxValue)));
        Assert.Equal("safetensors header size 4000 exceeds the 8 bytes after the size field (the file is truncated or not a safetensors file).",
            Error(f, File("{}", 0, sizeField: 4000)));
        var notUtf8 = File("{\"a\":1}", 0);
        notUtf8[10] = 0xFF;
        Assert.Equal("safetensors header is not valid UTF-8.", Error(f, notUtf8));
    }

    [Fact]
    public void NothingIsAllocatedForAHeaderThatClaimsMoreThanTheFile()
    {
        using var f = new TestFiles();
        var path = f.Path("big.safetensors");
        System.IO.File.WriteAllBytes(path, File("{\"a\":{\"dtype\":\"U8\",\"shape\":[1099511627776],\"data_offsets\":[0,1099511627776]}}", 1024 - 96));
        Assert.Throws<DataException>(() => SafeTensors.Read(path)); // warm up (JIT)
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<DataException>(() => SafeTensors.Read(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "a refused 1 KB file allocated over 1 MB");
    }

    [Fact]
    public void WriterRefusesWhatTheReaderWouldRefuse()
    {
        using var f = new TestFiles();
        var t = Tensor.Zeros([2]);
        string Refused(IEnumerable<(string, Tensor)> tensors, Dictionary<string, string>? meta = null) =>
            Assert.Throws<ArgumentException>(() => SafeTensors.Write(f.Path("w"), tensors, meta)).Message;
        Assert.StartsWith("SafeTensors.Write: tensor 'a' is given twice.", Refused([("a", t), ("a", t)]), StringComparison.Ordinal);
        Assert.StartsWith("SafeTensors.Write: a tensor cannot be named \"__metadata__\"", Refused([("__metadata__", t)]), StringComparison.Ordinal);
        Assert.StartsWith("SafeTensors.Write: metadata 'k' is null", Refused([("a", t)], new() { ["k"] = null! }), StringComparison.Ordinal);
        Assert.StartsWith("SafeTensors.Write: tensor name 'x\ud800' is not valid Unicode", Refused([("x\ud800", t)]), StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(f.Path("w")));
    }

    [Fact]
    public void RandomlyDamagedFilesGiveDataExceptionsOrLoad()
    {
        using var f = new TestFiles();
        var g = new Generator(11);
        var good = f.Path("good.safetensors");
        SafeTensors.Write(good, [("0.weight", Tensor.Randn([3, 2], g)), ("0.bias", Tensor.Randn([3], g, DType.Float64)),
            ("1.num_batches_tracked", Tensor.Scalar(3, DType.Float64)), ("e", Tensor.Zeros([0]))], new Dictionary<string, string> { ["format"] = "pt" });
        var original = System.IO.File.ReadAllBytes(good);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var random = new Random(12345);
        var path = f.Path("damaged.safetensors");
        int loaded = 0, refused = 0;
        const string Json = "{}[],:\"0123456789-.eE \\ntrufalsF32I64";
        for (int trial = 0; trial < 3000; trial++)
        {
            var b = (byte[])original.Clone();
            switch (trial % 6)
            {
                case 0: // flip bits anywhere
                    for (int k = random.Next(1, 4); k > 0; k--) b[random.Next(b.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1: // a JSON-ish character in the header
                    for (int k = random.Next(1, 3); k > 0; k--) b[random.Next(8, headerEnd)] = (byte)Json[random.Next(Json.Length)];
                    break;
                case 2: // truncate
                    b = b[..random.Next(b.Length)];
                    break;
                case 3: // append bytes
                    b = [.. b, .. new byte[random.Next(1, 16)]];
                    break;
                case 4: // a random header size
                    BinaryPrimitives.WriteUInt64LittleEndian(b, random.Next(3) == 0 ? (ulong)random.NextInt64() : (ulong)random.Next(b.Length + 16));
                    break;
                default: // a digit in the header changed (shapes and offsets)
                    var digits = Enumerable.Range(8, headerEnd - 8).Where(i => b[i] is >= (byte)'0' and <= (byte)'9').ToArray();
                    b[digits[random.Next(digits.Length)]] = (byte)('0' + random.Next(10));
                    break;
            }
            System.IO.File.WriteAllBytes(path, b);
            try
            {
                var (tensors, _) = SafeTensors.Read(path);
                Assert.All(tensors.Values, t => Assert.True(t.NumElements >= 0));
                loaded++;
            }
            catch (DataException e)
            {
                Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);
                Assert.DoesNotContain('\n', e.Message);
                refused++;
            }
        }
        Assert.True(refused > 2000, $"{refused} refused, {loaded} loaded");
    }
}
