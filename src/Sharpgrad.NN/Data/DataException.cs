namespace Sharpgrad.NN;

/// <summary>A data file or folder that cannot be used; the message names it and says what was expected.</summary>
public sealed class DataException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DataException(string message) : base(message) { }

    /// <summary>Creates the exception with its cause.</summary>
    public DataException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public DataException() { }
}
