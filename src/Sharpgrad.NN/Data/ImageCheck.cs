using System.Buffers.Binary;
using System.IO.Compression;

namespace Sharpgrad.NN;

/// <summary>
/// Structural checks of PNG, JPEG and BMP files before the managed decoder (StbImageSharp) sees them, so that no
/// input can make it loop, read past the data or allocate more than the image needs: every chunk, segment and
/// pixel array must lie inside the file, the sizes must be within <see cref="ImageFolder.MaxSide"/> and
/// <see cref="ImageFolder.MaxPixels"/>, a PNG's compressed data must inflate to exactly the bytes its header
/// implies (inflated here with a bound first), and a JPEG must end its last scan with an EOI marker (a file cut
/// in its scan data is refused instead of decoded to grey).
/// </summary>
internal static class ImageCheck
{
    /// <summary>What the checks found: the format, the stored size, whether the image is grey and the EXIF orientation (1-8).</summary>
    internal readonly record struct Header(string Format, int Width, int Height, bool Grey, int Orientation);

    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Checks <paramref name="b"/>; throws a <see cref="DataException"/> naming <paramref name="file"/>.</summary>
    internal static Header Check(ReadOnlySpan<byte> b, string file)
    {
        if (b.Length >= 8 && b[..8].SequenceEqual(PngSignature)) return Png(b, file);
        if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return Jpeg(b, file);
        if (b.Length >= 2 && b[0] == (byte)'B' && b[1] == (byte)'M') return Bmp(b, file);
        throw new DataException($"{file}: not a PNG, JPEG or BMP image (its first bytes are none of theirs).");
    }

    private static void Size(long w, long h, string file, string format)
    {
        if (w < 1 || h < 1 || w > ImageFolder.MaxSide || h > ImageFolder.MaxSide || w * h > ImageFolder.MaxPixels)
            throw new DataException($"{file}: {format} image is {w}x{h}; expected sides from 1 to {ImageFolder.MaxSide} pixels and at most {ImageFolder.MaxPixels} pixels.");
    }

    // ---- PNG (ISO/IEC 15948): signature, IHDR first, chunks inside the file with good CRCs, IDAT data inflating to exactly the image's bytes, IEND

    private static Header Png(ReadOnlySpan<byte> b, string file)
    {
        long pos = 8;
        int width = 0, height = 0, depth = 0, colorType = 0, interlace = 0;
        bool sawHeader = false, sawPalette = false, sawEnd = false, idatDone = false;
        var idat = new List<(int Offset, int Length)>();
        while (!sawEnd)
        {
            if (pos + 12 > b.Length)
                throw new DataException($"{file}: PNG is truncated at byte {pos} (expected a chunk{(sawHeader ? " or IEND" : " IHDR")}).");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(b[(int)pos..]);
            var type = b.Slice((int)pos + 4, 4);
            string name = ChunkName(type);
            if (length > int.MaxValue || pos + 12 + length > b.Length)
                throw new DataException($"{file}: PNG chunk {name} at byte {pos} claims {length} bytes, past the end of the {b.Length}-byte file (truncated?).");
            var data = b.Slice((int)pos + 8, (int)length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(b[(int)(pos + 8 + length)..]);
            if (Crc32(b.Slice((int)pos + 4, 4 + (int)length)) != crc)
                throw new DataException($"{file}: PNG chunk {name} at byte {pos} has a bad CRC (the file is corrupt).");
            if (!sawHeader && name != "IHDR") throw new DataException($"{file}: PNG does not start with an IHDR chunk (found {name}).");
            if (idat.Count > 0 && name != "IDAT") idatDone = true;
            switch (name)
            {
                case "IHDR":
                    if (sawHeader || length != 13) throw new DataException($"{file}: PNG has {(sawHeader ? "a second" : "a bad")} IHDR chunk.");
                    sawHeader = true;
                    uint w = BinaryPrimitives.ReadUInt32BigEndian(data), h = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
                    Size(w, h, file, "PNG");
                    (width, height, depth, colorType, interlace) = ((int)w, (int)h, data[8], data[9], data[12]);
                    bool okDepth = colorType switch
                    {
                        0 => depth is 1 or 2 or 4 or 8 or 16,
                        3 => depth is 1 or 2 or 4 or 8,
                        2 or 4 or 6 => depth is 8 or 16,
                        _ => false,
                    };
                    if (!okDepth) throw new DataException($"{file}: PNG colour type {colorType} with bit depth {depth} is not a valid combination.");
                    if (data[10] != 0 || data[11] != 0 || interlace > 1)
                        throw new DataException($"{file}: PNG compression {data[10]}, filter {data[11]} or interlace {interlace} method is unknown.");
                    break;
                case "PLTE":
                    if (length == 0 || length % 3 != 0 || length > 768 || idat.Count > 0) throw new DataException($"{file}: PNG palette (PLTE) is malformed or after the image data.");
                    sawPalette = true;
                    break;
                case "IDAT":
                    if (idatDone) throw new DataException($"{file}: PNG image data (IDAT) chunks are not consecutive.");
                    idat.Add(((int)pos + 8, (int)length));
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                default:
                    if ((type[0] & 0x20) == 0) throw new DataException($"{file}: PNG has an unknown critical chunk {name}.");
                    break;
            }
            pos += 12 + length;
        }
        if (idat.Count == 0) throw new DataException($"{file}: PNG has no image data (IDAT).");
        if (colorType == 3 && !sawPalette) throw new DataException($"{file}: PNG palette image without a palette (PLTE).");
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        long expected = interlace == 0 ? RawBytes(width, height, channels, depth) : Adam7Bytes(width, height, channels, depth);
        InflateExactly(b, idat, expected, file);
        return new Header("PNG", width, height, colorType is 0 or 4, 1);
    }

    private static string ChunkName(ReadOnlySpan<byte> type)
    {
        Span<char> c = stackalloc char[4];
        for (int i = 0; i < 4; i++) c[i] = type[i] is >= 0x41 and <= 0x5A or >= 0x61 and <= 0x7A ? (char)type[i] : '?';
        return new string(c);
    }

    // filtered scanlines: one filter byte per row
    private static long RawBytes(long w, long h, int channels, int depth) => w == 0 || h == 0 ? 0 : h * (1 + (w * channels * depth + 7) / 8);

    private static long Adam7Bytes(int w, int h, int channels, int depth)
    {
        ReadOnlySpan<int> x0 = [0, 4, 0, 2, 0, 1, 0], y0 = [0, 0, 4, 0, 2, 0, 1], dx = [8, 8, 4, 4, 2, 2, 1], dy = [8, 8, 8, 4, 4, 2, 2];
        long total = 0;
        for (int p = 0; p < 7; p++)
            total += RawBytes((w - x0[p] + dx[p] - 1) / dx[p], (h - y0[p] + dy[p] - 1) / dy[p], channels, depth);
        return total;
    }

    // inflates the IDAT stream reading at most expected + 1 bytes: the decoder then inflates exactly the image's bytes, never more
    private static void InflateExactly(ReadOnlySpan<byte> b, List<(int Offset, int Length)> idat, long expected, string file)
    {
        var compressed = new byte[idat.Sum(c => (long)c.Length)];
        int at = 0;
        foreach (var (offset, length) in idat)
        {
            b.Slice(offset, length).CopyTo(compressed.AsSpan(at));
            at += length;
        }
        long got = 0;
        try
        {
            using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            var scratch = new byte[64 << 10];
            int n;
            while (got <= expected && (n = z.Read(scratch, 0, (int)Math.Min(scratch.Length, expected + 1 - got))) > 0) got += n;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new DataException($"{file}: PNG image data is corrupt ({e.Message}).", e);
        }
        if (got != expected)
            throw new DataException($"{file}: PNG image data inflates to {(got < expected ? got.ToString(System.Globalization.CultureInfo.InvariantCulture) : "more than")} bytes; its header needs {expected} (the file is truncated or corrupt).");
    }

    private static readonly uint[] CrcTable = MakeCrcTable();

    private static uint[] MakeCrcTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    /// <summary>The CRC-32 of PNG chunks (ISO 3309, as zlib's crc32).</summary>
    internal static uint Crc32(ReadOnlySpan<byte> data) => Crc32(0, data);

    /// <summary>The CRC-32 of the bytes whose CRC-32 is <paramref name="crc"/> followed by <paramref name="data"/> (zlib's crc32(crc, data)).</summary>
    internal static uint Crc32(uint crc, ReadOnlySpan<byte> data)
    {
        uint c = crc ^ 0xFFFFFFFFu;
        foreach (var x in data) c = CrcTable[(c ^ x) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    // ---- JPEG (ITU T.81): a walk over the marker segments with every length inside the file, one baseline or
    // progressive 8-bit frame of 1 or 3 components, tables that fit their segments, scans that name the frame's
    // components, and an EOI marker after the last scan

    private static Header Jpeg(ReadOnlySpan<byte> b, string file)
    {
        int pos = 2, width = 0, height = 0, components = 0, orientation = 1, scans = 0;
        Span<byte> ids = stackalloc byte[4];
        bool progressive = false;
        while (true)
        {
            if (pos >= b.Length) throw new DataException($"{file}: JPEG is truncated at byte {pos} (no EOI marker{(scans > 0 ? " after the last scan" : "")}).");
            if (b[pos] != 0xFF) throw new DataException($"{file}: JPEG expected a marker at byte {pos}, found 0x{b[pos]:X2}.");
            while (pos < b.Length && b[pos] == 0xFF) pos++; // fill bytes
            if (pos >= b.Length) throw new DataException($"{file}: JPEG is truncated at byte {pos} (no EOI marker).");
            byte marker = b[pos++];
            if (marker == 0xD9)
            {
                if (scans == 0) throw new DataException($"{file}: JPEG ends (EOI) before any image data (SOS).");
                return new Header("JPEG", width, height, components == 1, orientation);
            }
            if (marker is 0x00 or 0x01 or 0xD8 or >= 0xD0 and <= 0xD7)
                throw new DataException($"{file}: JPEG has a stray marker 0xFF{marker:X2} at byte {pos - 2}.");
            if (pos + 2 > b.Length) throw new DataException($"{file}: JPEG is truncated in marker 0xFF{marker:X2} at byte {pos - 2}.");
            int length = BinaryPrimitives.ReadUInt16BigEndian(b[pos..]);
            if (length < 2 || pos + length > b.Length)
                throw new DataException($"{file}: JPEG segment 0xFF{marker:X2} at byte {pos - 2} claims {length} bytes, past the end of the {b.Length}-byte file (truncated?).");
            var seg = b.Slice(pos + 2, length - 2);
            switch (marker)
            {
                case 0xC0 or 0xC1 or 0xC2:
                    if (components != 0) throw new DataException($"{file}: JPEG has more than one frame (SOF).");
                    if (seg.Length < 6) throw new DataException($"{file}: JPEG frame header (SOF) is too short.");
                    progressive = marker == 0xC2;
                    height = BinaryPrimitives.ReadUInt16BigEndian(seg[1..]);
                    width = BinaryPrimitives.ReadUInt16BigEndian(seg[3..]);
                    components = seg[5];
                    if (seg[0] != 8) throw new DataException($"{file}: JPEG sample precision {seg[0]} is not supported (expected 8 bits).");
                    Size(width, height, file, "JPEG");
                    if (components is not (1 or 3) || seg.Length != 6 + 3 * components)
                        throw new DataException($"{file}: JPEG frame has {components} components in a {seg.Length + 2}-byte header (expected 1 or 3, 3 bytes each).");
                    for (int i = 0; i < components; i++)
                    {
                        byte hv = seg[7 + 3 * i];
                        ids[i] = seg[6 + 3 * i];
                        if (hv >> 4 is < 1 or > 4 || (hv & 15) is < 1 or > 4 || seg[8 + 3 * i] > 3)
                            throw new DataException($"{file}: JPEG component {i} has sampling factors or a table number out of range.");
                    }
                    break;
                case >= 0xC3 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC:
                    throw new DataException($"{file}: JPEG coding (marker 0xFF{marker:X2}: lossless, hierarchical or arithmetic) is not supported (expected baseline or progressive).");
                case 0xC4:
                    CheckHuffman(seg, file);
                    break;
                case 0xDB:
                    CheckQuantization(seg, file);
                    break;
                case 0xDD:
                    if (seg.Length != 2) throw new DataException($"{file}: JPEG restart interval (DRI) segment has {seg.Length + 2} bytes, expected 4.");
                    break;
                case 0xE1:
                    if (scans == 0) orientation = ExifOrientation(seg) ?? orientation;
                    break;
                case 0xDA:
                    if (components == 0) throw new DataException($"{file}: JPEG scan (SOS) before the frame header (SOF).");
                    int ns = seg.Length > 0 ? seg[0] : 0;
                    if (ns < 1 || ns > components || seg.Length != 4 + 2 * ns)
                        throw new DataException($"{file}: JPEG scan header (SOS) names {ns} components in {seg.Length + 2} bytes (expected 1 to {components}, 2 bytes each).");
                    for (int i = 0; i < ns; i++)
                    {
                        byte id = seg[1 + 2 * i], tables = seg[2 + 2 * i];
                        if (ids[..components].IndexOf(id) < 0 || tables >> 4 > 3 || (tables & 15) > 3)
                            throw new DataException($"{file}: JPEG scan names component {id}, which the frame lacks, or a table out of range.");
                    }
                    byte ss = seg[1 + 2 * ns], se = seg[2 + 2 * ns];
                    if (progressive ? ss > 63 || se > 63 || ss > se || (ss == 0 && se != 0) || (ss > 0 && ns != 1) : ss != 0 || se != 63)
                        throw new DataException($"{file}: JPEG scan's spectral selection {ss}..{se} is not valid for this frame.");
                    scans++;
                    pos += length;
                    // entropy-coded data runs to the next marker that is neither a stuffed 0x00 nor a restart marker
                    while (true)
                    {
                        int next = b[pos..].IndexOf((byte)0xFF);
                        if (next < 0 || pos + next + 1 >= b.Length)
                            throw new DataException($"{file}: JPEG is truncated in the image data of scan {scans} (no EOI marker at the end).");
                        pos += next + 1;
                        byte m = b[pos];
                        if (m == 0x00 || m is >= 0xD0 and <= 0xD7 || m == 0xFF) continue;
                        pos--;
                        break;
                    }
                    continue;
            }
            pos += length;
        }
    }

    private static void CheckHuffman(ReadOnlySpan<byte> seg, string file)
    {
        int p = 0;
        while (p < seg.Length)
        {
            if (p + 17 > seg.Length || seg[p] >> 4 > 1 || (seg[p] & 15) > 3)
                throw new DataException($"{file}: JPEG Huffman table (DHT) is malformed.");
            int count = 0;
            for (int i = 1; i <= 16; i++) count += seg[p + i];
            if (count > 256 || p + 17 + count > seg.Length) throw new DataException($"{file}: JPEG Huffman table (DHT) claims {count} codes, more than its segment holds.");
            // a code length's count may not exceed the codes left at that length (Kraft), else the decoder overruns its tables
            long codes = 1;
            for (int i = 1; i <= 16; i++)
            {
                codes = codes * 2 - seg[p + i];
                if (codes < 0) throw new DataException($"{file}: JPEG Huffman table (DHT) has more codes than its lengths allow.");
            }
            p += 17 + count;
        }
    }

    private static void CheckQuantization(ReadOnlySpan<byte> seg, string file)
    {
        int p = 0;
        while (p < seg.Length)
        {
            int precision = seg[p] >> 4, size = precision == 0 ? 64 : 128;
            if (precision > 1 || (seg[p] & 15) > 3 || p + 1 + size > seg.Length) throw new DataException($"{file}: JPEG quantization table (DQT) is malformed.");
            p += 1 + size;
        }
    }

    // the Orientation tag (0x0112) of IFD0 in an APP1 "Exif" segment (TIFF layout), or null when absent or malformed
    private static int? ExifOrientation(ReadOnlySpan<byte> seg)
    {
        if (seg.Length < 14 || !seg[..6].SequenceEqual("Exif\0\0"u8)) return null;
        var t = seg[6..];
        bool little = t[0] == 'I' && t[1] == 'I';
        if (!little && !(t[0] == 'M' && t[1] == 'M')) return null;
        uint ifd = little ? BinaryPrimitives.ReadUInt32LittleEndian(t[4..]) : BinaryPrimitives.ReadUInt32BigEndian(t[4..]);
        if (U16(t, 2, little) != 42 || ifd > (uint)t.Length - 2) return null;
        int n = U16(t, (int)ifd, little);
        for (int i = 0; i < n; i++)
        {
            long e = ifd + 2 + 12L * i;
            if (e + 12 > t.Length) return null;
            if (U16(t, (int)e, little) == 0x0112 && U16(t, (int)e + 2, little) == 3)
            {
                int v = U16(t, (int)e + 8, little);
                return v is >= 1 and <= 8 ? v : null;
            }
        }
        return null;
    }

    private static int U16(ReadOnlySpan<byte> t, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(t[at..]) : BinaryPrimitives.ReadUInt16BigEndian(t[at..]);

    // ---- BMP: the file header, a known info header, uncompressed (or bit-field) pixels of a known depth inside the file

    private static Header Bmp(ReadOnlySpan<byte> b, string file)
    {
        if (b.Length < 26) throw new DataException($"{file}: BMP is truncated ({b.Length} bytes; the headers need at least 26).");
        uint offset = BinaryPrimitives.ReadUInt32LittleEndian(b[10..]);
        uint headerSize = BinaryPrimitives.ReadUInt32LittleEndian(b[14..]);
        if (headerSize is not (12 or 40 or 56 or 108 or 124) || 14 + headerSize > b.Length)
            throw new DataException($"{file}: BMP info header of {headerSize} bytes is unknown or past the end of the file.");
        long w, h;
        int planes, bpp, compression = 0;
        if (headerSize == 12)
        {
            (w, h) = (BinaryPrimitives.ReadUInt16LittleEndian(b[18..]), BinaryPrimitives.ReadUInt16LittleEndian(b[20..]));
            (planes, bpp) = (BinaryPrimitives.ReadUInt16LittleEndian(b[22..]), BinaryPrimitives.ReadUInt16LittleEndian(b[24..]));
        }
        else
        {
            (w, h) = (BinaryPrimitives.ReadInt32LittleEndian(b[18..]), BinaryPrimitives.ReadInt32LittleEndian(b[22..]));
            (planes, bpp) = (BinaryPrimitives.ReadUInt16LittleEndian(b[26..]), BinaryPrimitives.ReadUInt16LittleEndian(b[28..]));
            compression = (int)BinaryPrimitives.ReadUInt32LittleEndian(b[30..]);
        }
        h = Math.Abs(h); // negative: rows stored top-down
        Size(w, h, file, "BMP");
        if (planes != 1 || bpp is not (1 or 4 or 8 or 16 or 24 or 32))
            throw new DataException($"{file}: BMP with {planes} planes and {bpp} bits per pixel is not supported.");
        if (!(compression == 0 || (compression == 3 && bpp is 16 or 32)))
            throw new DataException($"{file}: BMP compression {compression} is not supported (expected uncompressed or bit fields).");
        long row = (w * bpp + 31) / 32 * 4;
        if (offset < 14 + headerSize || offset + row * h > b.Length)
            throw new DataException($"{file}: BMP pixel data ({row * h} bytes from byte {offset}) lies outside the {b.Length}-byte file (truncated?).");
        return new Header("BMP", (int)w, (int)h, false, 1);
    }
}
