namespace Sharpgrad.NN;

/// <summary>PyTorch's default initialisations, drawn from a seeded <see cref="Generator"/>.</summary>
public static class Init
{
    /// <summary>
    /// kaiming_uniform_ with a = sqrt(5), PyTorch's default for Linear and Conv2d weights:
    /// U(-b, b) with b = gain sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)), so b = 1 / sqrt(fan_in).
    /// </summary>
    public static Tensor KaimingUniform(int[] shape, int fanIn, Generator? generator = null, DType dtype = DType.Float32)
    {
        double gain = Math.Sqrt(2.0 / (1 + 5.0));
        double bound = gain * Math.Sqrt(3.0 / fanIn);
        return Tensor.Uniform(shape, -bound, bound, generator, dtype);
    }

    /// <summary>PyTorch's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).</summary>
    public static Tensor BiasUniform(int size, int fanIn, Generator? generator = null, DType dtype = DType.Float32)
    {
        double bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        return Tensor.Uniform([size], -bound, bound, generator, dtype);
    }
}
