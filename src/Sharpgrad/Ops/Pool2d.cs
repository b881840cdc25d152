using Sharpgrad.Kernels;

namespace Sharpgrad;

internal static class Pool2dOp
{
    public static Conv2dGeometry Validate(string op, Tensor x, int kernel, int stride, int padding)
    {
        if (x.Rank != 4) throw new ArgumentException($"{op}: expected input of shape (N,C,H,W), got {Shapes.Format(x.Dims)}.");
        if (kernel < 1) throw new ArgumentException($"{op}: kernel size must be positive, got {kernel}.");
        if (stride < 1) throw new ArgumentException($"{op}: stride must be positive, got {stride}.");
        if (padding < 0 || padding > kernel / 2)
            throw new ArgumentException($"{op}: padding must be between 0 and half the kernel size ({kernel / 2}), got {padding}.");
        if (x.Dims[2] + 2 * padding < kernel || x.Dims[3] + 2 * padding < kernel)
            throw new ArgumentException($"{op}: kernel {kernel}x{kernel} is larger than the padded input {x.Dims[2] + 2 * padding}x{x.Dims[3] + 2 * padding} (input {Shapes.Format(x.Dims)}).");
        return new Conv2dGeometry(x.Dims[1], x.Dims[2], x.Dims[3], kernel, kernel, stride, stride, padding, padding);
    }
}
