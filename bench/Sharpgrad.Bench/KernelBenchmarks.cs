using BenchmarkDotNet.Attributes;
using Sharpgrad;

namespace Sharpgrad.Bench;

/// <summary>
/// Kernel benchmarks (BenchmarkDotNet, with allocations): GEMM at the exam CNN's shapes and square ones, and the
/// exam CNN's convolution, pooling and batch norm, forward and backward, batch 64 of 16x16x16.
/// Run: dotnet run -c Release --project bench/Sharpgrad.Bench -- --kernels [BenchmarkDotNet arguments]
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private Sharpgrad.Tensor _a = null!, _b = null!;

    [Params(64, 256, 512)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var g = new Generator(1);
        _a = Sharpgrad.Tensor.Randn([N, N], g);
        _b = Sharpgrad.Tensor.Randn([N, N], g);
    }

    /// <summary>2 N^3 flops per call: divide by the mean time for GFLOP/s.</summary>
    [Benchmark]
    public Sharpgrad.Tensor MatMul() => _a.MatMul(_b);
}

[MemoryDiagnoser]
public class LayerBenchmarks
{
    private Sharpgrad.Tensor _x = null!, _w = null!, _b = null!, _gamma = null!, _beta = null!, _rm = null!, _rv = null!;

    [GlobalSetup]
    public void Setup()
    {
        var g = new Generator(2);
        _x = Sharpgrad.Tensor.Randn([64, 16, 16, 16], g);
        _w = Sharpgrad.Tensor.Randn([16, 16, 3, 3], g);
        _b = Sharpgrad.Tensor.Randn([16], g);
        _gamma = Sharpgrad.Tensor.Ones([16]);
        _beta = Sharpgrad.Tensor.Zeros([16]);
        _rm = Sharpgrad.Tensor.Zeros([16]);
        _rv = Sharpgrad.Tensor.Ones([16]);
    }

    [Benchmark]
    public Sharpgrad.Tensor Conv2dForward()
    {
        using var _ = GradMode.NoGrad();
        return Sharpgrad.Tensor.Conv2d(_x, _w, _b, 1, 1);
    }

    [Benchmark]
    public void Conv2dForwardBackward()
    {
        var x = _x.Detach().RequiresGrad_();
        var w = _w.Detach().RequiresGrad_();
        Sharpgrad.Tensor.Conv2d(x, w, _b, 1, 1).Sum().Backward();
    }

    [Benchmark]
    public void MaxPoolForwardBackward()
    {
        var x = _x.Detach().RequiresGrad_();
        x.MaxPool2d(2).Sum().Backward();
    }

    [Benchmark]
    public void BatchNormForwardBackward()
    {
        var x = _x.Detach().RequiresGrad_();
        Sharpgrad.Tensor.BatchNorm(x, _rm, _rv, _gamma, _beta, training: true).Sum().Backward();
    }
}
