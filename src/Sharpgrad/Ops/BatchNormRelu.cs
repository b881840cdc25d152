namespace Sharpgrad;

public sealed partial class Tensor
{
    /// <summary>
    /// max(BatchNorm(x), 0) as one op (a batch norm and the ReLU after it, as in Conv -> BN -> ReLU): x: (N,C), (N,C,L)
    /// or (N,C,H,W) -> the same shape, the arguments and running-statistics update of <see cref="BatchNorm(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, double, double)"/>.
    /// Bitwise <c>BatchNorm(...).Relu()</c>, values and gradients, with fewer passes over memory: the ReLU is applied
    /// as the normalized values are stored, and the backward recomputes the ReLU's mask from x (y = x scale + shift,
    /// the forward's multiply-add) instead of reading the norm's output, so it reads dy and x in each of its two
    /// passes and keeps no full-size tensor besides x (the unfused pair keeps x and y and makes one more pass each
    /// way). The gradient at y = 0 is 0 and at a NaN passes, as ReLU's.
    /// </summary>
    /// <exception cref="ArgumentException">An input of rank below 2, a parameter or statistic not of shape (C) or of another dtype, a single value per channel in training, or eps not positive; the message names BatchNormRelu and the shapes.</exception>
    /// <exception cref="InvalidOperationException">Evaluation mode without running statistics.</exception>
    public static Tensor BatchNormRelu(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum = 0.1, double eps = 1e-5) =>
        BatchNorm(input, runningMean, runningVar, weight, bias, training, momentum, eps, relu: true);
}
