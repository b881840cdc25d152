using Sharpgrad.Kernels;

namespace Sharpgrad;

internal static class Pool2dOp
{
    public static Conv2dGeometry Validate(string op, Tensor x, int kernel, int stride, int padding) =>
        Validate(op, x, (kernel, kernel), (stride, stride), (padding, padding));

    // (vertical, horizontal) kernel, stride and padding; padding at most half the kernel on each axis, as PyTorch
    public static Conv2dGeometry Validate(string op, Tensor x, (int H, int W) kernel, (int H, int W) stride, (int H, int W) padding)
    {
        if (x.Rank != 4) throw new ArgumentException($"{op}: expected input of shape (N,C,H,W), got {Shapes.Format(x.Dims)}.");
        if (kernel.H < 1 || kernel.W < 1) throw new ArgumentException($"{op}: kernel size must be positive, got {Pair(kernel)}.");
        if (stride.H < 1 || stride.W < 1) throw new ArgumentException($"{op}: stride must be positive, got {Pair(stride)}.");
        if (padding.H < 0 || padding.H > kernel.H / 2 || padding.W < 0 || padding.W > kernel.W / 2)
            throw new ArgumentException($"{op}: padding must be between 0 and half the kernel size ({Pair((kernel.H / 2, kernel.W / 2))}), got {Pair(padding)}.");
        if (x.Dims[2] + 2 * padding.H < kernel.H || x.Dims[3] + 2 * padding.W < kernel.W)
            throw new ArgumentException($"{op}: kernel {kernel.H}x{kernel.W} is larger than the padded input {x.Dims[2] + 2 * padding.H}x{x.Dims[3] + 2 * padding.W} (input {Shapes.Format(x.Dims)}).");
        return new Conv2dGeometry(x.Dims[1], x.Dims[2], x.Dims[3], kernel.H, kernel.W, stride.H, stride.W, padding.H, padding.W);
    }

    // "2" for a square (2, 2), "3x2" otherwise
    private static string Pair((int H, int W) v) => v.H == v.W ? $"{v.H}" : $"{v.H}x{v.W}";
}
