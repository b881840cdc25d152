using System.Text;

namespace Sharpgrad.Bench;

/// <summary>
/// TorchSharp 0.107.0's libLibTorchSharp.so asks for GLIBCXX_3.4.32, which Debian 12's libstdc++ (3.4.30) lacks, so
/// it fails to load. Only std::ios_base_library_init needs that version and nothing calls it, so marking the
/// requirement weak (VER_FLG_WEAK in its .gnu.version_r entry) lets it load. This patches the build output's copy.
/// </summary>
internal static class ElfPatch
{
    private const ushort VerFlgWeak = 0x2;

    public static string? PatchBesideExecutable(string version = "GLIBCXX_3.4.32")
    {
        var dir = AppContext.BaseDirectory;
        var lib = Directory.EnumerateFiles(dir, "libLibTorchSharp.so", SearchOption.AllDirectories).FirstOrDefault();
        if (lib is null) return null;
        return MarkWeak(lib, version) ? lib : null;
    }

    /// <summary>Marks the version requirement <paramref name="version"/> weak; true if the file changed.</summary>
    public static bool MarkWeak(string path, string version)
    {
        var b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' || b[4] != 2 || b[5] != 1)
            throw new InvalidDataException($"{path}: not a 64-bit little-endian ELF file.");
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        bool changed = false;
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            uint type = BitConverter.ToUInt32(b, (int)sh + 4);
            if (type != 0x6ffffffe) continue; // SHT_GNU_verneed
            long off = BitConverter.ToInt64(b, (int)sh + 0x18);
            uint link = BitConverter.ToUInt32(b, (int)sh + 0x28);
            long strSh = shoff + (long)link * shentsize;
            long strOff = BitConverter.ToInt64(b, (int)strSh + 0x18);
            long vn = off;
            while (true)
            {
                ushort cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                uint aux = BitConverter.ToUInt32(b, (int)vn + 8), next = BitConverter.ToUInt32(b, (int)vn + 12);
                long va = vn + aux;
                for (int k = 0; k < cnt; k++)
                {
                    ushort flags = BitConverter.ToUInt16(b, (int)va + 4);
                    uint name = BitConverter.ToUInt32(b, (int)va + 8), vnext = BitConverter.ToUInt32(b, (int)va + 12);
                    int s = (int)(strOff + name), e = s;
                    while (b[e] != 0) e++;
                    if (Encoding.ASCII.GetString(b, s, e - s) == version && (flags & VerFlgWeak) == 0)
                    {
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(b, (int)va + 4);
                        changed = true;
                    }
                    if (vnext == 0) break;
                    va += vnext;
                }
                if (next == 0) break;
                vn += next;
            }
        }
        if (changed) File.WriteAllBytes(path, b);
        return changed;
    }
}
