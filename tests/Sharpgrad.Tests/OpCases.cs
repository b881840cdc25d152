namespace Sharpgrad.Tests;

/// <summary>How an op's test inputs are drawn (the same names as tools/make_fixtures.py).</summary>
public enum Domain
{
    Any,
    Pos,
    Away,
    Prob,
    Binary,
}

public sealed record InputSpec(int[] Shape, Domain Domain, bool Differentiable = true);

public sealed record OpCase(string Name, InputSpec[] Inputs, Func<Tensor[], Tensor> Fn);

/// <summary>
/// Every op under test, once: the gradient check runs each case in float64 and the parity test runs the cases
/// that tools/make_fixtures.py also defines against its PyTorch outputs.
/// </summary>
public static class OpCases
{
    public static readonly int[] Targets = [1, 0, 3, 2, 4, 1];

    private static InputSpec S(Domain d, params int[] shape) => new(shape, d);

    private static InputSpec NoGrad(Domain d, params int[] shape) => new(shape, d, Differentiable: false);

    private static Tensor Ar(DType dt, params int[] shape) => Tensor.Arange(Shapes.Numel(shape), dt).Reshape(shape);

    public static readonly OpCase[] All =
    [
        new("add", [S(Domain.Any, 3, 4), S(Domain.Any, 3, 4)], x => x[0] + x[1]),
        new("add_broadcast", [S(Domain.Any, 2, 3, 4), S(Domain.Any, 3, 1)], x => x[0] + x[1]),
        new("add_slice_view", [S(Domain.Any, 3, 8), S(Domain.Any, 3, 4)], x => x[0].Slice(1, 0, 8, 2) + x[1]),
        new("sub_broadcast", [S(Domain.Any, 4, 1), S(Domain.Any, 1, 5)], x => x[0] - x[1]),
        new("mul", [S(Domain.Any, 3, 4), S(Domain.Any, 3, 4)], x => x[0] * x[1]),
        new("mul_broadcast", [S(Domain.Any, 2, 3), S(Domain.Any, 3)], x => x[0] * x[1]),
        new("mul_transposed_view", [S(Domain.Any, 4, 3), S(Domain.Any, 3, 4)], x => x[0].Transpose() * x[1]),
        new("div", [S(Domain.Any, 3, 4), S(Domain.Pos, 3, 4)], x => x[0] / x[1]),
        new("div_broadcast", [S(Domain.Any, 2, 3, 4), S(Domain.Pos, 4)], x => x[0] / x[1]),
        new("neg", [S(Domain.Any, 3, 4)], x => -x[0]),
        new("pow2", [S(Domain.Any, 3, 4)], x => x[0].Pow(2)),
        new("pow3", [S(Domain.Any, 3, 4)], x => x[0].Pow(3)),
        new("pow_frac", [S(Domain.Pos, 3, 4)], x => x[0].Pow(1.5)),
        new("pow_neg", [S(Domain.Pos, 3, 4)], x => x[0].Pow(-2)),
        new("exp", [S(Domain.Any, 3, 4)], x => x[0].Exp()),
        new("exp_permuted_view", [S(Domain.Any, 2, 3, 4)], x => x[0].Permute(2, 0, 1).Exp()),
        new("log", [S(Domain.Pos, 3, 4)], x => x[0].Log()),
        new("sqrt", [S(Domain.Pos, 3, 4)], x => x[0].Sqrt()),
        new("abs", [S(Domain.Away, 3, 4)], x => x[0].Abs()),
        new("clamp", [S(Domain.Away, 4, 5)], x => x[0].Clamp(-0.5, 0.5)),
        new("clamp_min", [S(Domain.Away, 4, 5)], x => x[0].Clamp(min: -0.5)),
        new("sum_all", [S(Domain.Any, 3, 4)], x => x[0].Sum()),
        new("sum_axis1", [S(Domain.Any, 3, 4)], x => x[0].Sum(1)),
        new("sum_axes02_keep", [S(Domain.Any, 2, 3, 4)], x => x[0].Sum([0, 2], keepDim: true)),
        new("sum_axis0_transposed", [S(Domain.Any, 4, 3)], x => x[0].Transpose().Sum(0)),
        new("mean_all", [S(Domain.Any, 3, 4)], x => x[0].Mean()),
        new("mean_axis0", [S(Domain.Any, 3, 4)], x => x[0].Mean(0)),
        new("mean_axes12_keep", [S(Domain.Any, 2, 3, 4)], x => x[0].Mean([1, 2], keepDim: true)),
        new("max_all", [S(Domain.Any, 3, 4)], x => x[0].Max()),
        new("max_axis1", [S(Domain.Any, 3, 4)], x => x[0].Max(1)),
        new("max_axes01_keep", [S(Domain.Any, 2, 3, 4)], x => x[0].Max([0, 1], keepDim: true)),
        new("matmul", [S(Domain.Any, 3, 4), S(Domain.Any, 4, 5)], x => x[0].MatMul(x[1])),
        new("matmul_batched", [S(Domain.Any, 2, 3, 4), S(Domain.Any, 2, 4, 5)], x => x[0].MatMul(x[1])),
        new("matmul_broadcast", [S(Domain.Any, 2, 1, 3, 4), S(Domain.Any, 3, 4, 5)], x => x[0].MatMul(x[1])),
        new("linear", [S(Domain.Any, 4, 5), S(Domain.Any, 3, 5), S(Domain.Any, 3)], x => Tensor.Linear(x[0], x[1], x[2])),
        new("linear_no_bias_batched", [S(Domain.Any, 2, 3, 5), S(Domain.Any, 4, 5)], x => Tensor.Linear(x[0], x[1])),
        new("linear_transposed_input", [S(Domain.Any, 5, 4), S(Domain.Any, 3, 5), S(Domain.Any, 3)], x => Tensor.Linear(x[0].Transpose(), x[1], x[2])),
        new("conv2d_maxpool2d", [S(Domain.Any, 2, 3, 7, 6), S(Domain.Any, 8, 3, 3, 3), S(Domain.Any, 8)], x => Tensor.Conv2dMaxPool2d(x[0], x[1], x[2], 1, 1)),
        new("add_relu", [S(Domain.Any, 2, 3, 4, 5), S(Domain.Any, 2, 3, 4, 5)], x => x[0].AddRelu(x[1])),
        new("linear_relu", [S(Domain.Any, 6, 7), S(Domain.Any, 5, 7), S(Domain.Any, 5)], x => Tensor.LinearRelu(x[0], x[1], x[2])),
        new("matmul_transposed_views", [S(Domain.Any, 4, 3), S(Domain.Any, 5, 4)], x => x[0].Transpose().MatMul(x[1].Transpose())),
        new("sigmoid", [S(Domain.Any, 3, 4)], x => x[0].Sigmoid()),
        new("tanh", [S(Domain.Any, 3, 4)], x => x[0].Tanh()),
        new("relu", [S(Domain.Away, 3, 4)], x => x[0].Relu()),
        new("step", [S(Domain.Away, 3, 4)], x => x[0].Step()),
        new("softmax", [S(Domain.Any, 3, 5)], x => x[0].Softmax(-1)),
        new("softmax_axis0", [S(Domain.Any, 3, 5)], x => x[0].Softmax(0)),
        new("log_softmax", [S(Domain.Any, 3, 5)], x => x[0].LogSoftmax(-1)),
        new("log_softmax_axis1_3d", [S(Domain.Any, 2, 3, 4)], x => x[0].LogSoftmax(1)),
        new("reshape", [S(Domain.Any, 3, 4)], x => x[0].Reshape(2, 6) * Ar(x[0].DType, 2, 6)),
        new("expand", [S(Domain.Any, 3, 1)], x => x[0].Expand(2, 3, 4) * Ar(x[0].DType, 2, 3, 4)),
        new("contiguous_of_transpose", [S(Domain.Any, 3, 4)], x => x[0].Transpose().Contiguous() * Ar(x[0].DType, 4, 3)),
        new("mse", [S(Domain.Any, 3, 4), S(Domain.Any, 3, 4)], x => Losses.Mse(x[0], x[1])),
        new("mse_sum", [S(Domain.Any, 3, 4), S(Domain.Any, 3, 4)], x => Losses.Mse(x[0], x[1], Reduction.Sum)),
        new("bce", [S(Domain.Prob, 3, 4), NoGrad(Domain.Binary, 3, 4)], x => Losses.BinaryCrossEntropy(x[0], x[1])),
        new("bce_none", [S(Domain.Prob, 3, 4), NoGrad(Domain.Prob, 3, 4)], x => Losses.BinaryCrossEntropy(x[0], x[1], Reduction.None)),
        new("bce_with_logits", [S(Domain.Any, 3, 4), S(Domain.Prob, 3, 4)], x => Losses.BinaryCrossEntropyWithLogits(x[0], x[1])),
        new("bce_with_logits_sum", [S(Domain.Any, 3, 4), NoGrad(Domain.Binary, 3, 4)], x => Losses.BinaryCrossEntropyWithLogits(x[0], x[1], Reduction.Sum)),
        new("cross_entropy", [S(Domain.Any, 6, 5)], x => Losses.CrossEntropy(x[0], Targets)),
        new("cross_entropy_sum", [S(Domain.Any, 6, 5)], x => Losses.CrossEntropy(x[0], Targets, Reduction.Sum)),
        new("cross_entropy_none", [S(Domain.Any, 6, 5)], x => Losses.CrossEntropy(x[0], Targets, Reduction.None)),
        new("cross_entropy_label_smoothing", [S(Domain.Any, 6, 5)], x => Losses.CrossEntropy(x[0], Targets, labelSmoothing: 0.1)),
        new("cross_entropy_label_smoothing_none", [S(Domain.Any, 6, 5)], x => Losses.CrossEntropy(x[0], Targets, Reduction.None, 0.3)),
        new("flip_width", [S(Domain.Any, 2, 3, 4, 5)], x => x[0].Flip(3)),
        new("flip_two_axes_of_transpose", [S(Domain.Any, 3, 4, 5)], x => x[0].Transpose(0, 2).Flip(0, -1) * 2),
        new("conv2d_s1_p1", [S(Domain.Any, 2, 3, 7, 6), S(Domain.Any, 4, 3, 3, 3), S(Domain.Any, 4)], x => Tensor.Conv2d(x[0], x[1], x[2], 1, 1)),
        new("conv2d_s2_p0", [S(Domain.Any, 2, 2, 9, 8), S(Domain.Any, 3, 2, 3, 3), S(Domain.Any, 3)], x => Tensor.Conv2d(x[0], x[1], x[2], 2, 0)),
        new("conv2d_p2_nobias", [S(Domain.Any, 1, 2, 5, 5), S(Domain.Any, 2, 2, 3, 3)], x => Tensor.Conv2d(x[0], x[1], null, 1, 2)),
        new("conv2d_k5_s2_p1_odd", [S(Domain.Any, 2, 1, 11, 10), S(Domain.Any, 2, 1, 5, 5), S(Domain.Any, 2)], x => Tensor.Conv2d(x[0], x[1], x[2], 2, 1)),
        new("conv2d_1x1", [S(Domain.Any, 2, 4, 3, 3), S(Domain.Any, 5, 4, 1, 1), S(Domain.Any, 5)], x => Tensor.Conv2d(x[0], x[1], x[2])),
        new("maxpool2d_k2", [S(Domain.Any, 2, 3, 6, 6)], x => x[0].MaxPool2d(2)),
        new("maxpool2d_k3_s2_p1", [S(Domain.Any, 2, 2, 7, 7)], x => x[0].MaxPool2d(3, 2, 1)),
        new("maxpool2d_odd", [S(Domain.Any, 1, 2, 5, 7)], x => x[0].MaxPool2d(2)),
        new("avgpool2d_k2", [S(Domain.Any, 2, 3, 6, 6)], x => x[0].AvgPool2d(2)),
        new("avgpool2d_k3_s2_p1", [S(Domain.Any, 2, 2, 7, 7)], x => x[0].AvgPool2d(3, 2, 1)),
        new("batchnorm2d_train", [S(Domain.Any, 4, 3, 5, 5), S(Domain.Pos, 3), S(Domain.Any, 3)],
            x => Tensor.BatchNorm(x[0], Tensor.Zeros([3], x[0].DType), Tensor.Ones([3], x[0].DType), x[1], x[2], training: true)),
        new("batchnorm1d_train", [S(Domain.Any, 8, 5), S(Domain.Pos, 5), S(Domain.Any, 5)],
            x => Tensor.BatchNorm(x[0], Tensor.Zeros([5], x[0].DType), Tensor.Ones([5], x[0].DType), x[1], x[2], training: true)),
        new("batchnorm1d_3d_train_noaffine", [S(Domain.Any, 4, 3, 6)], x => Tensor.BatchNorm(x[0], null, null, null, null, training: true)),
        new("batchnorm2d_eval", [S(Domain.Any, 2, 3, 4, 4), NoGrad(Domain.Any, 3), NoGrad(Domain.Pos, 3), S(Domain.Pos, 3), S(Domain.Any, 3)],
            x => Tensor.BatchNorm(x[0], x[1], x[2], x[3], x[4], training: false)),
        new("conv2d_relu", [S(Domain.Any, 2, 3, 6, 7), S(Domain.Any, 8, 3, 3, 3), S(Domain.Any, 8)], x => Tensor.Conv2dRelu(x[0], x[1], x[2], 1, 1)),
        new("conv2d_relu_maxpool2d", [S(Domain.Any, 2, 3, 7, 6), S(Domain.Any, 8, 3, 3, 3), S(Domain.Any, 8)], x => Tensor.Conv2dReluMaxPool2d(x[0], x[1], x[2], 1, 1)),
        new("conv2d_groups2_rect", [S(Domain.Any, 2, 4, 7, 6), S(Domain.Any, 6, 2, 3, 2), S(Domain.Any, 6)], x => Tensor.Conv2d(x[0], x[1], x[2], (2, 1), (1, 0), groups: 2)),
        new("conv2d_depthwise_3x3", [S(Domain.Any, 2, 4, 6, 5), S(Domain.Any, 8, 1, 3, 3), S(Domain.Any, 8)], x => Tensor.Conv2d(x[0], x[1], x[2], 1, 1, groups: 4)),
        new("conv2d_depthwise_k3x5_nobias", [S(Domain.Any, 1, 3, 7, 8), S(Domain.Any, 3, 1, 3, 5)], x => Tensor.Conv2d(x[0], x[1], null, (1, 2), (1, 2), groups: 3)),
        new("leaky_relu", [S(Domain.Away, 3, 4)], x => x[0].LeakyRelu()),
        new("leaky_relu_slope", [S(Domain.Away, 2, 3, 4)], x => x[0].LeakyRelu(0.2)),
        new("gelu", [S(Domain.Any, 4, 5)], x => x[0].Gelu()),
        new("gelu_wide", [S(Domain.Any, 4, 5)], x => x[0].Mul(4).Gelu()),
        new("cat_axis1", [S(Domain.Any, 2, 3, 4), S(Domain.Any, 2, 1, 4), S(Domain.Any, 2, 2, 4)], x => Tensor.Cat([x[0], x[1], x[2]], 1)),
        new("cat_last_transposed_view", [S(Domain.Any, 4, 3), S(Domain.Any, 3, 2)], x => Tensor.Cat([x[0].Transpose(), x[1]], -1)),
        new("stack_axis0", [S(Domain.Any, 3, 4), S(Domain.Any, 3, 4)], x => Tensor.Stack([x[0], x[1]])),
        new("stack_last_views", [S(Domain.Any, 2, 3), S(Domain.Any, 3, 2), S(Domain.Any, 2, 3)], x => Tensor.Stack([x[0], x[1].Transpose(), x[2]], -1)),
        new("argmax_keep", [S(Domain.Any, 3, 4)], x => x[0].Argmax(1, keepDim: true) * x[0]),
        new("argmax_axis0", [S(Domain.Any, 3, 4, 2)], x => x[0].Argmax(0) * x[0].Sum(0)),
        new("where_broadcast", [NoGrad(Domain.Binary, 3, 4), S(Domain.Any, 3, 1), S(Domain.Any, 4)], x => Tensor.Where(x[0], x[1], x[2])),
        new("where_from_compare", [S(Domain.Any, 3, 4), S(Domain.Any, 3, 4)], x => Tensor.Where(x[0].Gt(x[1]), x[0], x[1] * 2)),
        new("compare_tensor_broadcast", [S(Domain.Any, 3, 4), S(Domain.Any, 4)],
            x => (x[0].Gt(x[1]) + x[0].Le(x[1]) * 2 + x[0].Lt(x[1]) * 4 + x[0].Ge(x[1]) * 8 + x[0].Ne(x[1]) * 16 + x[0].Eq(x[1]) * 32) * (x[0] + x[1])),
        new("compare_ties", [S(Domain.Any, 3, 5)],
            x => (x[0].Eq(x[0].Max(1, keepDim: true)) + x[0].Ge(x[0].Max(1, keepDim: true)) * 2 + x[0].Lt(x[0].Max(1, keepDim: true)) * 4 + x[0].Ne(x[0].Max(1, keepDim: true)) * 8) * x[0]),
        new("compare_scalar", [S(Domain.Any, 3, 5)],
            x => (x[0].Gt(0.25) + x[0].Le(-0.5) * 2 + x[0].Eq(0) * 4 + x[0].Ne(0.25) * 8 + x[0].Lt(1) * 16 + x[0].Ge(-1) * 32) * x[0]),
        new("adaptive_avgpool2d_3x2", [S(Domain.Any, 2, 3, 7, 5)], x => x[0].AdaptiveAvgPool2d(3, 2)),
        new("adaptive_avgpool2d_global", [S(Domain.Any, 2, 3, 4, 5)], x => x[0].AdaptiveAvgPool2d(1)),
        new("adaptive_avgpool2d_up", [S(Domain.Any, 1, 2, 3, 3)], x => x[0].AdaptiveAvgPool2d(4, 5)),
    ];

    /// <summary>More shapes for the gradient check alone: scalars, odd sizes, longer chains.</summary>
    public static readonly OpCase[] GradCheckOnly =
    [
        new("add_scalar_tensor", [S(Domain.Any), S(Domain.Any, 2, 3)], x => x[0] + x[1]),
        new("batchnorm2d_relu_train", [S(Domain.Any, 4, 3, 5, 5), S(Domain.Pos, 3), S(Domain.Any, 3)],
            x => Tensor.BatchNormRelu(x[0], Tensor.Zeros([3], x[0].DType), Tensor.Ones([3], x[0].DType), x[1], x[2], training: true)),
        new("batchnorm1d_relu_3d_train_noaffine", [S(Domain.Any, 4, 3, 6)], x => Tensor.BatchNormRelu(x[0], null, null, null, null, training: true)),
        new("batchnorm2d_relu_eval", [S(Domain.Any, 2, 3, 4, 4), NoGrad(Domain.Any, 3), NoGrad(Domain.Pos, 3), S(Domain.Pos, 3), S(Domain.Any, 3)],
            x => Tensor.BatchNormRelu(x[0], x[1], x[2], x[3], x[4], training: false)),
        new("maxpool2d_rect_k3x2_s1x2_p1x0", [S(Domain.Any, 2, 2, 6, 7)], x => x[0].MaxPool2d((3, 2), (1, 2), (1, 0))),
        new("avgpool2d_rect_k2x3_s2x1_p0x1", [S(Domain.Any, 2, 2, 7, 6)], x => x[0].AvgPool2d((2, 3), (2, 1), (0, 1))),
        new("mul_both_broadcast", [S(Domain.Any, 5, 1, 3), S(Domain.Any, 2, 1)], x => x[0] * x[1]),
        new("div_slice_of_transpose", [S(Domain.Pos, 6, 5)], x => x[0].Transpose().Slice(1, 1, 6, 2) / x[0].Slice(0, 0, 3).Transpose()),
        new("sigmoid_tanh_chain_3d", [S(Domain.Any, 2, 3, 5)], x => x[0].Sigmoid().Tanh().Exp()),
        new("relu_odd", [S(Domain.Away, 7)], x => x[0].Relu() * x[0]),
        new("dropout_p0.3", [S(Domain.Any, 4, 9)], x => x[0].Dropout(0.3, new Generator(5))), // the same mask at every evaluation
        new("sum_axis2_of_permute", [S(Domain.Any, 3, 4, 5)], x => x[0].Permute(1, 2, 0).Sum(2)),
        new("max_axis0_keep_4d", [S(Domain.Any, 3, 2, 2, 3)], x => x[0].Max(0, keepDim: true)),
        new("mean_axis_neg", [S(Domain.Any, 2, 7)], x => x[0].Mean(-1)),
        new("matmul_large_k", [S(Domain.Any, 5, 70), S(Domain.Any, 70, 9)], x => x[0].MatMul(x[1])),
        new("matmul_self_transposed", [S(Domain.Any, 4, 6)], x => x[0].MatMul(x[0].Transpose())),
        new("softmax_3d_axis0", [S(Domain.Any, 3, 2, 4)], x => x[0].Softmax(0)),
        new("narrow_unsqueeze_squeeze", [S(Domain.Any, 5, 4)], x => x[0].Narrow(0, 1, 3).Unsqueeze(1).Squeeze(1).Exp()),
        new("flatten_view", [S(Domain.Any, 2, 3, 4)], x => x[0].Flatten(1).View(4, 6).Tanh()),
        new("clone", [S(Domain.Any, 3, 3)], x => x[0].Clone() * x[0]),
        new("unary_chain_3d", [S(Domain.Pos, 2, 3, 5)], x => x[0].Sqrt().Log().Neg().Abs().Pow(1.5).Clamp(0.01, 5).Step().Add(x[0].Log())),
        new("unary_scalar", [S(Domain.Pos)], x => x[0].Exp().Sqrt().Log().Neg().Abs().Pow(3).Sigmoid().Tanh()),
        new("activations_odd_4d", [S(Domain.Away, 1, 3, 1, 5)], x => x[0].Relu().Add(x[0].Clamp(-0.5)).Mul(x[0].Sigmoid()).Sub(x[0].Step())),
        new("losses_odd_shapes", [S(Domain.Prob, 7, 1, 3), S(Domain.Any, 7, 1, 3), NoGrad(Domain.Prob, 7, 1, 3)],
            x => Losses.BinaryCrossEntropy(x[0], x[2]).Add(Losses.BinaryCrossEntropyWithLogits(x[1], x[0])).Add(Losses.Mse(x[1], x[0], Reduction.Sum))),
        new("cross_entropy_wide", [S(Domain.Any, 6, 11)], x => Losses.CrossEntropy(x[0].Mul(3), [10, 0, 5, 5, 1, 9])),
        new("conv2d_rect_stride", [S(Domain.Any, 1, 2, 6, 5), S(Domain.Any, 3, 2, 2, 3), S(Domain.Any, 3)], x => Tensor.Conv2d(x[0], x[1], x[2], (2, 1), (0, 1))),
        new("conv_relu_pool_bn_chain", [S(Domain.Any, 3, 2, 6, 6), S(Domain.Any, 4, 2, 3, 3), S(Domain.Pos, 4)],
            x => Tensor.BatchNorm(Tensor.Conv2d(x[0], x[1], null, 1, 1).MaxPool2d(2).Tanh(), null, null, x[2], null, training: true).AvgPool2d(3, 1, 1)),
        new("logistic_regression", [S(Domain.Any, 8, 3), S(Domain.Any, 3, 1), S(Domain.Any, 1), NoGrad(Domain.Binary, 8, 1)],
            x => Losses.BinaryCrossEntropy(x[0].MatMul(x[1]).Add(x[2]).Sigmoid(), x[3])),
    ];

    public static Tensor Make(InputSpec spec, Generator g, DType dtype)
    {
        var shape = spec.Shape;
        var t = spec.Domain switch
        {
            Domain.Any => Tensor.Randn(shape, g, dtype),
            Domain.Pos => Tensor.Uniform(shape, 0.5, 2.0, g, dtype),
            Domain.Prob => Tensor.Uniform(shape, 0.05, 0.95, g, dtype),
            Domain.Binary => Tensor.Rand(shape, g, dtype),
            _ => Tensor.Uniform(shape, 0.1, 1.7, g, dtype),
        };
        if (spec.Domain is Domain.Binary or Domain.Away)
        {
            var s = t.ToDoubleArray();
            for (int i = 0; i < s.Length; i++)
            {
                if (spec.Domain == Domain.Binary) s[i] = s[i] < 0.5 ? 1 : 0;
                else
                {
                    double v = g.NextDouble() < 0.5 ? -s[i] : s[i];
                    if (Math.Abs(Math.Abs(v) - 0.5) < 0.05) v += 0.1;
                    s[i] = v;
                }
            }
            t = Tensor.FromArray(s, shape).To(dtype);
        }
        return t;
    }
}
