namespace Sharpgrad.NN;

/// <summary>Files written whole or not at all: a temporary file beside the target, then a rename over it.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/> atomically: a reader sees the old file or the
    /// new one, never a part; the temporary file ("PATH.PID.tmp") is removed when the write fails.
    /// </summary>
    /// <exception cref="IOException">The write or the rename failed (a full disk, a read-only folder); the old file is unchanged.</exception>
    public static void WriteText(string path, string text) => Write(path, tmp => File.WriteAllText(tmp, text));

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> atomically, as <see cref="WriteText"/>.</summary>
    /// <exception cref="IOException">The write or the rename failed; the old file is unchanged.</exception>
    public static void WriteBytes(string path, byte[] bytes) => Write(path, tmp => File.WriteAllBytes(tmp, bytes));

    private static void Write(string path, Action<string> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        var tmp = path + "." + Environment.ProcessId + ".tmp";
        try
        {
            write(tmp);
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
