using Sharpgrad.NN;

namespace Sharpgrad.Onnx;

/// <summary>Runs one compiled node: its inputs (null where an optional input is absent) -> its outputs.</summary>
internal delegate OnnxValue[] OnnxNodeRun(OnnxValue?[] inputs);

/// <summary>
/// ONNX operators (default domain, opsets 1 to 21) as Sharpgrad ops, so that an imported graph runs with autograd.
/// Each builder reads and checks the node's attributes once, at load time (an attribute or value outside the
/// supported set is refused there, naming the operator, node and opset), and returns the function that runs the
/// node. Semantics follow ONNX's operator documentation (onnx/docs/Operators.md, ONNX 1.12) opset by opset.
/// </summary>
internal static class OnnxOperators
{
    private delegate OnnxNodeRun Builder(OnnxNodeContext c);

    private static readonly Dictionary<string, Builder> Builders = new(StringComparer.Ordinal)
    {
        ["Conv"] = Conv,
        ["MaxPool"] = c => Pool(c, max: true),
        ["AveragePool"] = c => Pool(c, max: false),
        ["GlobalAveragePool"] = c => Unary(c, x => x.Mean(SpatialAxes(x), keepDim: true)),
        ["GlobalMaxPool"] = c => Unary(c, x => x.Max(SpatialAxes(x), keepDim: true)),
        ["BatchNormalization"] = BatchNormalization,
        ["Relu"] = c => Unary(c, x => x.Relu()),
        ["LeakyRelu"] = c => { double a = c.Float("alpha", 0.01f); return Unary(c, x => x.LeakyRelu(a)); },
        ["Sigmoid"] = c => Unary(c, x => x.Sigmoid()),
        ["Tanh"] = c => Unary(c, x => x.Tanh()),
        ["Exp"] = c => Unary(c, x => x.Exp()),
        ["Log"] = c => Unary(c, x => x.Log()),
        ["Sqrt"] = c => Unary(c, x => x.Sqrt()),
        ["Neg"] = c => Unary(c, x => x.Neg()),
        ["Abs"] = c => Unary(c, x => x.Abs()),
        ["Softmax"] = c => Softmax(c, log: false),
        ["LogSoftmax"] = c => Softmax(c, log: true),
        ["Gemm"] = Gemm,
        ["MatMul"] = c => Binary(c, MatMul),
        ["Add"] = c => Binary(c, (a, b) => a.Add(b), legacy: true),
        ["Sub"] = c => Binary(c, (a, b) => a.Sub(b), legacy: true),
        ["Mul"] = c => Binary(c, (a, b) => a.Mul(b), legacy: true),
        ["Div"] = c => Binary(c, (a, b) => a.Div(b), legacy: true),
        ["Flatten"] = Flatten,
        ["Reshape"] = Reshape,
        ["Transpose"] = Transpose,
        ["Concat"] = Concat,
        ["Identity"] = c => { c.CheckAllRead(); return x => [Required(x, 0)]; },
        ["Dropout"] = Dropout,
        ["Constant"] = Constant,
        ["ReduceMax"] = c => Reduce(c, (x, axes, keep) => x.Max(axes, keep), axesInputSince: 18),
        ["ReduceSum"] = c => Reduce(c, (x, axes, keep) => x.Sum(axes, keep), axesInputSince: 13),
        ["ReduceMean"] = c => Reduce(c, (x, axes, keep) => x.Mean(axes, keep), axesInputSince: 18),
        ["Shape"] = Shape,
        ["Unsqueeze"] = c => Squeeze(c, unsqueeze: true),
        ["Squeeze"] = c => Squeeze(c, unsqueeze: false),
        ["Gather"] = Gather,
    };

    /// <summary>The operators the importer runs (default domain).</summary>
    public static IReadOnlyCollection<string> Supported => Builders.Keys;

    /// <summary>Compiles a node; refuses an unknown operator, attribute or attribute value.</summary>
    /// <exception cref="DataException">One line naming the file, operator, node and opset.</exception>
    public static OnnxNodeRun Compile(OnnxNodeContext c)
    {
        if (c.Node.Domain is not ("" or "ai.onnx"))
            throw c.Unsupported($"domain '{c.Node.Domain}' (only ONNX's default domain)");
        if (!Builders.TryGetValue(c.Op, out var build))
            throw c.Unsupported($"the operator (supported: {string.Join(", ", Builders.Keys.Order(StringComparer.Ordinal))})");
        return build(c);
    }

    // ---- helpers ----

    private static OnnxValue Required(OnnxValue?[] x, int i) =>
        i < x.Length && x[i] is { } v ? v : throw new ArgumentException($"input {i} is missing.");

    private static Tensor F(OnnxValue?[] x, int i)
    {
        var v = Required(x, i);
        return v.Tensor ?? throw new ArgumentException($"input {i} must be a float tensor, got {v}.");
    }

    private static Tensor? OptionalF(OnnxValue?[] x, int i) => i < x.Length && x[i] is not null ? F(x, i) : null;

    private static long[] I(OnnxValue?[] x, int i)
    {
        var v = Required(x, i);
        return v.Ints ?? throw new ArgumentException($"input {i} must be an integer tensor, got {v}.");
    }

    private static OnnxValue[] One(Tensor t) => [OnnxValue.Of(t)];

    private static int[] SpatialAxes(Tensor x) =>
        x.Rank >= 3 ? Enumerable.Range(2, x.Rank - 2).ToArray() : throw new ArgumentException($"expected (N,C,...) input, got [{string.Join(",", x.Shape)}].");

    private static int Axis(long axis, int rank, string what)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1)) throw new ArgumentException($"{what} {axis} is out of range for rank {rank}.");
        return (int)a;
    }

    private static int Prod(int[] shape, int from, int to)
    {
        long p = 1;
        for (int i = from; i < to; i++) p *= shape[i];
        return checked((int)p);
    }

    private static OnnxNodeRun Unary(OnnxNodeContext c, Func<Tensor, Tensor> f)
    {
        c.CheckAllRead();
        return x => One(f(F(x, 0)));
    }

    private static OnnxNodeRun Binary(OnnxNodeContext c, Func<Tensor, Tensor, Tensor> f, bool legacy = false)
    {
        if (legacy && c.Opset < 7)
        {
            // opsets 1-6: broadcast=1 aligns the second operand's trailing dimensions (NumPy's rule), unless axis moves it
            if (c.Has("axis")) throw c.Unsupported("attribute axis (legacy broadcasting)");
            c.Ignore("broadcast");
            c.Ignore("consumed_inputs");
        }
        c.CheckAllRead();
        return x => One(f(F(x, 0), F(x, 1)));
    }

    // NumPy matmul: a 1-D operand is a row (left) or a column (right) vector, its dimension removed from the result
    private static Tensor MatMul(Tensor a, Tensor b)
    {
        bool va = a.Rank == 1, vb = b.Rank == 1;
        var y = (va ? a.Unsqueeze(0) : a).MatMul(vb ? b.Unsqueeze(1) : b);
        if (vb) y = y.Squeeze(-1);
        if (va) y = y.Squeeze(-2);
        return y;
    }

    // constant padding of one axis, as Cat with blocks of `value`; autograd passes through to x
    private static Tensor Pad(Tensor x, int axis, int before, int after, double value)
    {
        if (before == 0 && after == 0) return x;
        var parts = new List<Tensor>(3);
        if (before > 0) parts.Add(Block(x, axis, before, value));
        parts.Add(x);
        if (after > 0) parts.Add(Block(x, axis, after, value));
        return Tensor.Cat(parts, axis);
    }

    private static Tensor Block(Tensor x, int axis, int size, double value)
    {
        var s = x.Shape;
        s[axis] = size;
        return Tensor.Full(s, value, x.DType);
    }

    // ---- Conv and pooling ----

    /// <summary>Padding and output size of one spatial axis.</summary>
    private readonly record struct AxisPads(int Before, int After, int Extra, int Out);

    /// <summary>
    /// ONNX's output size for one axis. auto_pad SAME_UPPER / SAME_LOWER: out = ceil(in / stride) and the total
    /// padding max(0, (out - 1) stride + kernel - in) split with the odd one at the end (UPPER) or the start (LOWER);
    /// VALID: no padding; NOTSET: the explicit pads, out = floor (or ceil, ceil_mode) of (in + pads - kernel) /
    /// stride, + 1, dropping a last window that would start in the end padding (as PyTorch). Extra is the padding
    /// past the end that ceil_mode's last window reads.
    /// </summary>
    private static AxisPads Geometry(int input, int kernel, int stride, string autoPad, int before, int after, bool ceil)
    {
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            int outSame = (int)((input + (long)stride - 1) / stride);
            int total = (int)Math.Max(0, (outSame - 1L) * stride + kernel - input);
            int small = total / 2;
            return autoPad == "SAME_UPPER" ? new(small, total - small, 0, outSame) : new(total - small, small, 0, outSame);
        }
        if (autoPad == "VALID") before = after = 0;
        long span = (long)input + before + after - kernel;
        if (span < 0) throw new ArgumentException($"kernel {kernel} is larger than the padded input {input + before + after}.");
        long o = (ceil ? (span + stride - 1) / stride : span / stride) + 1;
        if (ceil && (o - 1) * stride >= input + before) o--;
        int extra = (int)Math.Max(0, (o - 1) * stride + kernel - ((long)input + before + after));
        return new(before, after, extra, (int)o);
    }

    /// <summary>The spatial attributes shared by Conv and the pools: kernel_shape, strides, pads, auto_pad.</summary>
    private sealed record Spatial(long[]? Kernel, long[]? Strides, long[]? Pads, string AutoPad)
    {
        public static Spatial Read(OnnxNodeContext c, bool kernelRequired)
        {
            var kernel = c.Ints("kernel_shape");
            if (kernelRequired && kernel is null) throw c.Malformed("attribute kernel_shape is required");
            var s = new Spatial(kernel, c.Ints("strides"), c.Ints("pads"), c.String("auto_pad", "NOTSET"));
            if (s.AutoPad is not ("NOTSET" or "SAME_UPPER" or "SAME_LOWER" or "VALID")) throw c.Malformed($"auto_pad '{s.AutoPad}' is not an ONNX value");
            int? rank = kernel?.Length ?? s.Strides?.Length ?? (s.Pads?.Length / 2);
            if (rank is > 2) throw c.Unsupported($"{rank}-D {c.Op} (1-D and 2-D are)");
            if (kernel?.Any(k => k < 1 || k > int.MaxValue) == true) throw c.Malformed($"kernel_shape [{string.Join(",", kernel)}] must be positive");
            if (s.Strides?.Any(k => k < 1 || k > int.MaxValue) == true) throw c.Malformed($"strides [{string.Join(",", s.Strides)}] must be positive");
            if (s.Pads?.Any(k => k < 0 || k > int.MaxValue) == true) throw c.Malformed($"pads [{string.Join(",", s.Pads)}] must be non-negative");
            foreach (var (name, v, n) in new[] { ("strides", s.Strides, rank), ("pads", s.Pads, rank * 2) })
                if (v is not null && v.Length != n) throw c.Malformed($"{name} has {v.Length} values for a {rank}-D kernel");
            return s;
        }

        /// <summary>Per-axis geometry of a (N,C,H,W) input for kernel (kh, kw); 1-D attributes apply to W.</summary>
        public (AxisPads H, AxisPads W) Resolve(int h, int w, int kh, int kw, bool oneD, bool ceil)
        {
            int n = oneD ? 1 : 2;
            if (Kernel is not null && (Kernel.Length != n || (oneD ? Kernel[0] != kw : Kernel[0] != kh || Kernel[1] != kw)))
                throw new ArgumentException($"kernel_shape [{string.Join(",", Kernel)}] does not match the {(oneD ? "1" : "2")}-D kernel {(oneD ? $"{kw}" : $"{kh}x{kw}")}.");
            if ((Strides is not null && Strides.Length != n) || (Pads is not null && Pads.Length != 2 * n))
                throw new ArgumentException($"the strides or pads attributes are not for a {n}-D kernel.");
            int sh = oneD ? 1 : (int)(Strides?[0] ?? 1), sw = (int)(Strides?[n - 1] ?? 1);
            var hp = oneD ? new AxisPads(0, 0, 0, h) : Geometry(h, kh, sh, AutoPad, (int)(Pads?[0] ?? 0), (int)(Pads?[2] ?? 0), ceil);
            var wp = Geometry(w, kw, sw, AutoPad, (int)(Pads?[n - 1] ?? 0), (int)(Pads?[2 * n - 1] ?? 0), ceil);
            return (hp, wp);
        }

        public (int H, int W) Stride(bool oneD) => oneD ? (1, (int)(Strides?[0] ?? 1)) : ((int)(Strides?[0] ?? 1), (int)(Strides?[1] ?? 1));
    }

    // (N,C,L) -> (N,C,1,L) so that 1-D runs as 2-D
    private static (Tensor X, bool OneD) As2d(Tensor x, string op)
    {
        if (x.Rank == 3) return (x.Unsqueeze(2), true);
        if (x.Rank == 4) return (x, false);
        throw new ArgumentException($"expected a (N,C,L) or (N,C,H,W) input for {op}, got [{string.Join(",", x.Shape)}].");
    }

    private static OnnxNodeRun Conv(OnnxNodeContext c)
    {
        var sp = Spatial.Read(c, kernelRequired: false);
        c.AllOnes("dilations");
        long group = c.Int("group", 1);
        if (group < 1 || group > int.MaxValue) throw c.Malformed($"group {group} must be positive");
        c.CheckAllRead();
        return x =>
        {
            var (input, oneD) = As2d(F(x, 0), "Conv");
            var w = F(x, 1);
            if (w.Rank != input.Rank - (oneD ? 1 : 0)) throw new ArgumentException($"weight [{string.Join(",", w.Shape)}] does not fit the input [{string.Join(",", F(x, 0).Shape)}].");
            if (oneD) w = w.Unsqueeze(2);
            var b = OptionalF(x, 2);
            var (hp, wp) = sp.Resolve(input.Size(2), input.Size(3), w.Size(2), w.Size(3), oneD, ceil: false);
            var stride = sp.Stride(oneD);
            Tensor y;
            if (hp.Before == hp.After && wp.Before == wp.After)
                y = Tensor.Conv2d(input, w, b, stride, (hp.Before, wp.Before), (int)group);
            else
                y = Tensor.Conv2d(Pad(Pad(input, 2, hp.Before, hp.After, 0), 3, wp.Before, wp.After, 0), w, b, stride, (0, 0), (int)group);
            return One(oneD ? y.Squeeze(2) : y);
        };
    }

    private static OnnxNodeRun Pool(OnnxNodeContext c, bool max)
    {
        var sp = Spatial.Read(c, kernelRequired: true);
        bool ceil = c.IntIn("ceil_mode", 0, 0, 1) == 1;
        bool countPad = !max && c.IntIn("count_include_pad", 0, 0, 1) == 1;
        c.AllOnes("dilations");
        if (max)
        {
            if (c.Node.Output.Count > 1 && c.Node.Output[1].Length > 0) throw c.Unsupported("the Indices output");
            c.Ignore("storage_order"); // only affects Indices
        }
        c.CheckAllRead();
        bool oneD = sp.Kernel!.Length == 1;
        int kh = oneD ? 1 : (int)sp.Kernel[0], kw = (int)sp.Kernel[^1];
        var stride = sp.Stride(oneD);
        return x =>
        {
            var (input, inputOneD) = As2d(F(x, 0), c.Op);
            if (inputOneD != oneD) throw new ArgumentException($"a {(oneD ? 1 : 2)}-D kernel does not fit the input [{string.Join(",", F(x, 0).Shape)}].");
            int h = input.Size(2), w = input.Size(3);
            var (hp, wp) = sp.Resolve(h, w, kh, kw, oneD, ceil);
            bool symmetric = hp.Before == hp.After && wp.Before == wp.After && hp.Extra == 0 && wp.Extra == 0
                && hp.Before <= kh / 2 && wp.Before <= kw / 2;
            Tensor y;
            if (max)
            {
                y = symmetric
                    ? input.MaxPool2d((kh, kw), stride, (hp.Before, wp.Before))
                    : Pad(Pad(input, 2, hp.Before, hp.After + hp.Extra, double.NegativeInfinity), 3, wp.Before, wp.After + wp.Extra, double.NegativeInfinity)
                        .MaxPool2d((kh, kw), stride, (0, 0));
            }
            else if (symmetric && (countPad || (hp.Before == 0 && wp.Before == 0)))
                y = input.AvgPool2d((kh, kw), stride, (hp.Before, wp.Before));
            else
            {
                // window sums over zero padding divided by each window's count of the positions that count: the
                // input, plus the explicit padding when count_include_pad, never ceil_mode's overhang
                var padded = Pad(Pad(input, 2, hp.Before, hp.After + hp.Extra, 0), 3, wp.Before, wp.After + wp.Extra, 0);
                int ph = padded.Size(2), pw = padded.Size(3);
                var mask = new double[ph * pw];
                for (int i = 0; i < ph; i++)
                for (int j = 0; j < pw; j++)
                {
                    bool inH = i >= hp.Before && i < hp.Before + h, inW = j >= wp.Before && j < wp.Before + w;
                    bool inPadH = i < hp.Before + h + hp.After, inPadW = j < wp.Before + w + wp.After;
                    mask[i * pw + j] = (inH && inW) || (countPad && inPadH && inPadW) ? 1 : 0;
                }
                var counts = Tensor.FromArray(mask, 1, 1, ph, pw).To(input.DType).AvgPool2d((kh, kw), stride, (0, 0));
                y = padded.AvgPool2d((kh, kw), stride, (0, 0)).Div(counts);
            }
            return One(oneD ? y.Squeeze(2) : y);
        };
    }

    private static OnnxNodeRun BatchNormalization(OnnxNodeContext c)
    {
        double eps = c.Float("epsilon", 1e-5f);
        if (!(eps > 0)) throw c.Unsupported($"epsilon {eps} (it must be positive)");
        c.Ignore("momentum"); // training only
        c.Ignore("is_test"); // opsets 1-6: inference is all the importer does
        c.Ignore("consumed_inputs");
        c.IntIn("spatial", 1, 1);
        c.IntIn("training_mode", 0, 0);
        if (c.Node.Output.Skip(1).Any(o => o.Length > 0)) throw c.Unsupported("the running statistics outputs (training mode)");
        c.CheckAllRead();
        return x => One(Tensor.BatchNorm(F(x, 0), F(x, 3), F(x, 4), F(x, 1), F(x, 2), training: false, eps: eps));
    }

    // ---- softmax, Gemm, shapes ----

    private static OnnxNodeRun Softmax(OnnxNodeContext c, bool log)
    {
        // opsets 1-12: the input is coerced to 2-D at axis (default 1) and normalized over all of [axis, rank);
        // opset 13: over the one axis (default -1)
        bool coerce = c.Opset < 13;
        long axis = c.Int("axis", coerce ? 1 : -1);
        c.CheckAllRead();
        return x =>
        {
            var t = F(x, 0);
            int a = Axis(axis, t.Rank, "axis");
            if (!coerce) return One(log ? t.LogSoftmax(a) : t.Softmax(a));
            var flat = t.Reshape(Prod(t.Shape, 0, a), Prod(t.Shape, a, t.Rank));
            return One((log ? flat.LogSoftmax(1) : flat.Softmax(1)).Reshape(t.Shape));
        };
    }

    private static OnnxNodeRun Gemm(OnnxNodeContext c)
    {
        double alpha = c.Float("alpha", 1), beta = c.Float("beta", 1);
        bool ta = c.IntIn("transA", 0, 0, 1) == 1, tb = c.IntIn("transB", 0, 0, 1) == 1;
        c.Ignore("broadcast"); // opsets 1-6: C broadcasts either way
        c.CheckAllRead();
        return x =>
        {
            Tensor a = F(x, 0), b = F(x, 1);
            if (a.Rank != 2 || b.Rank != 2) throw new ArgumentException($"Gemm takes 2-D A and B, got [{string.Join(",", a.Shape)}] and [{string.Join(",", b.Shape)}].");
            var y = (ta ? a.Transpose() : a).MatMul(tb ? b.Transpose() : b);
            if (alpha != 1) y = y.Mul(alpha);
            if (OptionalF(x, 2) is { } bias) y = y.Add(beta == 1 ? bias : bias.Mul(beta));
            return One(y);
        };
    }

    private static OnnxNodeRun Flatten(OnnxNodeContext c)
    {
        long axis = c.Int("axis", 1);
        c.CheckAllRead();
        return x =>
        {
            var v = Required(x, 0);
            int r = v.Shape.Length;
            long a = axis < 0 ? axis + r : axis;
            if (a < 0 || a > r) throw new ArgumentException($"axis {axis} is out of range for rank {r}.");
            return [ReshapeValue(v, [Prod(v.Shape, 0, (int)a), Prod(v.Shape, (int)a, r)])];
        };
    }

    private static OnnxValue ReshapeValue(OnnxValue v, int[] shape) =>
        v.Tensor is { } t ? OnnxValue.Of(t.Reshape(shape)) : OnnxValue.OfInts(v.Ints!, shape, v.ElementType);

    private static OnnxNodeRun Reshape(OnnxNodeContext c)
    {
        long[]? attr = c.Opset < 5 ? c.Ints("shape") ?? throw c.Malformed("attribute shape is required") : null;
        bool allowZero = c.IntIn("allowzero", 0, 0, 1) == 1;
        c.Ignore("consumed_inputs");
        c.CheckAllRead();
        return x =>
        {
            var v = Required(x, 0);
            var spec = attr ?? I(x, 1);
            var shape = new int[spec.Length];
            int infer = -1;
            long known = 1;
            for (int i = 0; i < spec.Length; i++)
            {
                long d = spec[i];
                if (d == 0 && !allowZero)
                {
                    if (i >= v.Shape.Length) throw new ArgumentException($"shape [{string.Join(",", spec)}] copies dimension {i} of a rank-{v.Shape.Length} input.");
                    d = v.Shape[i];
                }
                if (d == -1)
                {
                    if (infer >= 0) throw new ArgumentException($"shape [{string.Join(",", spec)}] has more than one -1.");
                    infer = i;
                    continue;
                }
                if (d < 0 || d > int.MaxValue) throw new ArgumentException($"shape [{string.Join(",", spec)}] has an invalid dimension {spec[i]}.");
                shape[i] = (int)d;
                known *= d;
                if (known > int.MaxValue) throw new ArgumentException($"shape [{string.Join(",", spec)}] is too large.");
            }
            long n = 1;
            foreach (int d in v.Shape) n *= d;
            if (infer >= 0)
            {
                if (known == 0 || n % known != 0) throw new ArgumentException($"cannot reshape [{string.Join(",", v.Shape)}] to [{string.Join(",", spec)}].");
                shape[infer] = (int)(n / known);
            }
            else if (known != n) throw new ArgumentException($"cannot reshape [{string.Join(",", v.Shape)}] ({n} elements) to [{string.Join(",", shape)}].");
            return [ReshapeValue(v, shape)];
        };
    }

    private static OnnxNodeRun Transpose(OnnxNodeContext c)
    {
        var perm = c.Ints("perm");
        c.CheckAllRead();
        return x =>
        {
            var t = F(x, 0);
            int[] p = perm is null ? Enumerable.Range(0, t.Rank).Reverse().ToArray() : perm.Select(a => Axis(a, t.Rank, "perm axis")).ToArray();
            if (p.Length != t.Rank || p.Distinct().Count() != p.Length) throw new ArgumentException($"perm [{string.Join(",", perm!)}] is not a permutation of rank {t.Rank}.");
            return One(t.Permute(p));
        };
    }

    private static OnnxNodeRun Concat(OnnxNodeContext c)
    {
        long axis = c.Opset < 4 ? c.Int("axis", 1) : c.Int("axis", long.MinValue);
        if (axis == long.MinValue) throw c.Malformed("attribute axis is required");
        c.CheckAllRead();
        return x =>
        {
            var values = x.Select((v, i) => v ?? throw new ArgumentException($"input {i} is missing.")).ToArray();
            if (values.Length == 0) throw new ArgumentException("Concat needs at least one input.");
            int a = Axis(axis, values[0].Shape.Length, "axis");
            if (values.All(v => v.IsFloat)) return One(Tensor.Cat(values.Select(v => v.Tensor!).ToArray(), a));
            if (values.Any(v => v.IsFloat)) throw new ArgumentException("Concat mixes float and integer inputs.");
            // integer tensors (shape arithmetic): row-major blocks of inner elements
            var first = values[0].Shape;
            foreach (var v in values)
                if (v.Shape.Length != first.Length || Enumerable.Range(0, first.Length).Any(d => d != a && v.Shape[d] != first[d]))
                    throw new ArgumentException($"Concat: shapes [{string.Join(",", first)}] and [{string.Join(",", v.Shape)}] differ off axis {a}.");
            int outer = Prod(first, 0, a), inner = Prod(first, a + 1, first.Length);
            var shape = (int[])first.Clone();
            shape[a] = values.Sum(v => v.Shape[a]);
            var data = new List<long>();
            for (int o = 0; o < outer; o++)
                foreach (var v in values)
                {
                    int block = v.Shape[a] * inner;
                    data.AddRange(v.Ints!.Skip(o * block).Take(block));
                }
            return [OnnxValue.OfInts([.. data], shape)];
        };
    }

    private static OnnxNodeRun Dropout(OnnxNodeContext c)
    {
        // inference: the identity, and a mask of ones (ratio and seed do not matter)
        c.Ignore("ratio");
        c.Ignore("seed");
        c.Ignore("is_test");
        c.Ignore("consumed_inputs");
        c.CheckAllRead();
        bool mask = c.Node.Output.Count > 1 && c.Node.Output[1].Length > 0;
        return x =>
        {
            // training_mode = true with a ratio above 0 draws a random mask: not what an imported model does
            if (x.Length > 2 && x[2] is { } training && (training.Ints ?? []).Any(t => t != 0)
                && (x.Length < 2 || x[1] is null || (x[1]!.Tensor?.ToDoubleArray() ?? [1]).Any(r => r != 0)))
                throw new NotSupportedException("Dropout in training mode (training_mode = true, ratio above 0) is not supported; the importer runs inference.");
            var v = Required(x, 0);
            if (!mask) return [v];
            long n = 1;
            foreach (int d in v.Shape) n *= d;
            return [v, OnnxValue.OfInts(Enumerable.Repeat(1L, (int)n).ToArray(), v.Shape, OnnxTypes.Bool)];
        };
    }

    private static OnnxNodeRun Constant(OnnxNodeContext c)
    {
        OnnxValue value;
        if (c.Tensor("value") is { } t)
        {
            try
            {
                value = OnnxTensors.Decode(t, $"{c.File}: Constant (node '{c.Label}')");
            }
            catch (FormatException e)
            {
                throw new DataException(e.Message);
            }
        }
        else if (c.Has("value_float")) value = OnnxValue.Of(Tensor.Scalar(c.Float("value_float", 0)));
        else if (c.Floats("value_floats") is { } fs) value = OnnxValue.Of(Tensor.FromArray(fs, fs.Length));
        else if (c.Has("value_int")) value = OnnxValue.OfInts([c.Int("value_int", 0)], []);
        else if (c.Ints("value_ints") is { } ints) value = OnnxValue.OfInts(ints, [ints.Length]);
        else throw c.Unsupported(c.Node.Attribute.Count == 0 ? "a Constant without a value" : $"attribute '{c.Node.Attribute[0].Name}'");
        c.CheckAllRead();
        return _ => [value];
    }

    private static OnnxNodeRun Reduce(OnnxNodeContext c, Func<Tensor, int[], bool, Tensor> f, int axesInputSince)
    {
        bool keep = c.IntIn("keepdims", 1, 0, 1) == 1;
        bool axesInput = c.Opset >= axesInputSince;
        long[]? attr = axesInput ? null : c.Ints("axes");
        bool noop = axesInput && c.IntIn("noop_with_empty_axes", 0, 0, 1) == 1;
        c.CheckAllRead();
        return x =>
        {
            var t = F(x, 0);
            long[]? axes = axesInput ? (x.Length > 1 && x[1] is not null ? I(x, 1) : null) : attr;
            if (axes is null || axes.Length == 0)
            {
                if (noop) return One(t);
                axes = Enumerable.Range(0, t.Rank).Select(a => (long)a).ToArray();
            }
            return One(f(t, axes.Select(a => Axis(a, t.Rank, "axis")).Distinct().ToArray(), keep));
        };
    }

    private static OnnxNodeRun Shape(OnnxNodeContext c)
    {
        long? start = c.Has("start") ? c.Int("start", 0) : null, end = c.Has("end") ? c.Int("end", 0) : null;
        c.CheckAllRead();
        return x =>
        {
            var s = Required(x, 0).Shape;
            int r = s.Length;
            int Clamp(long v) => (int)Math.Clamp(v < 0 ? v + r : v, 0, r);
            int from = Clamp(start ?? 0), to = Clamp(end ?? r);
            var dims = s.Skip(from).Take(Math.Max(0, to - from)).Select(d => (long)d).ToArray();
            return [OnnxValue.OfInts(dims, [dims.Length])];
        };
    }

    private static OnnxNodeRun Squeeze(OnnxNodeContext c, bool unsqueeze)
    {
        long[]? attr = c.Opset < 13 ? c.Ints("axes") : null;
        if (unsqueeze && c.Opset < 13 && attr is null) throw c.Malformed("attribute axes is required");
        c.CheckAllRead();
        return x =>
        {
            var v = Required(x, 0);
            long[]? axes = c.Opset < 13 ? attr : x.Length > 1 && x[1] is not null ? I(x, 1) : null;
            var shape = v.Shape.ToList();
            if (unsqueeze)
            {
                if (axes is null) throw new ArgumentException("Unsqueeze needs axes.");
                int r = shape.Count + axes.Length;
                foreach (int a in axes.Select(a => Axis(a, r, "axis")).Order()) shape.Insert(a, 1);
            }
            else
            {
                var drop = axes is null ? Enumerable.Range(0, shape.Count).Where(i => shape[i] == 1).ToArray() : axes.Select(a => Axis(a, shape.Count, "axis")).ToArray();
                foreach (int a in drop.Distinct().OrderDescending())
                {
                    if (shape[a] != 1) throw new ArgumentException($"cannot squeeze dimension {a} of size {shape[a]}.");
                    shape.RemoveAt(a);
                }
            }
            return [ReshapeValue(v, [.. shape])];
        };
    }

    private static OnnxNodeRun Gather(OnnxNodeContext c)
    {
        long axis = c.Int("axis", 0);
        c.CheckAllRead();
        return x =>
        {
            var v = Required(x, 0);
            var indices = I(x, 1);
            var ishape = Required(x, 1).Shape;
            int a = Axis(axis, v.Shape.Length, "axis");
            int n = v.Shape[a];
            var idx = indices.Select(i => i < -n || i >= n ? throw new ArgumentException($"index {i} is out of range for a dimension of {n}.") : (int)(i < 0 ? i + n : i)).ToArray();
            if (v.Tensor is { } t)
            {
                if (idx.Length == 0) throw new NotSupportedException("Gather with no indices is not supported.");
                var parts = idx.Select(i => t.Slice(a, i, i + 1)).ToArray();
                var y = parts.Length == 1 ? parts[0] : Tensor.Cat(parts, a);
                return One(y.Reshape([.. v.Shape.Take(a), .. ishape, .. v.Shape.Skip(a + 1)]));
            }
            int outer = Prod(v.Shape, 0, a), inner = Prod(v.Shape, a + 1, v.Shape.Length);
            var data = new List<long>();
            for (int o = 0; o < outer; o++)
                foreach (int i in idx) data.AddRange(v.Ints!.Skip((o * n + i) * inner).Take(inner));
            var shape = v.Shape.Take(a).Concat(ishape).Concat(v.Shape.Skip(a + 1)).ToArray();
            return [OnnxValue.OfInts([.. data], shape, v.ElementType)];
        };
    }
}
