using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sharpgrad;

/// <summary>
/// An n-dimensional array of float32 or float64 with reverse-mode autograd.
/// A tensor is a view: storage (a managed array) + shape + strides + offset. Views made by
/// <see cref="Reshape(int[])"/>, <see cref="Permute(int[])"/>, <see cref="Slice"/> and <see cref="Expand(int[])"/>
/// share storage with their source.
/// </summary>
public sealed partial class Tensor
{
    private Array? _storage;
    internal readonly int[] Dims;
    internal readonly int[] StrideArr;
    internal readonly int Offset;
    private bool _requiresGrad;

    /// <summary>The write counter of this tensor's storage, shared by every view of it (PyTorch's version counter).</summary>
    internal readonly VersionCounter VersionRef;

    internal Tensor(Array storage, int[] shape, int[] strides, int offset, VersionCounter? version = null)
    {
        _storage = storage;
        VersionRef = version ?? new VersionCounter();
        if (TensorScope.Current is not null) TensorScope.Track(this, storage);
        Dims = shape;
        StrideArr = strides;
        Offset = offset;
        DType = storage is float[] ? DType.Float32 : DType.Float64;
        NumElements = Shapes.Numel(shape);
    }

    internal Tensor(Array storage, int[] shape) : this(storage, shape, Shapes.ContiguousStrides(shape), 0) { }

    /// <summary>A view of this tensor's storage (and version counter) with another shape, strides and offset.</summary>
    internal Tensor ViewOf(int[] shape, int[] strides, int offset) => new(Storage, shape, strides, offset, VersionRef);

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Number of elements.</summary>
    public int NumElements { get; }

    /// <summary>
    /// How many times this tensor's storage has been written in place (PyTorch's <c>_version</c>), shared by every
    /// view of the storage. Writes through the indexer, <see cref="CopyFrom"/> and <see cref="AsSpan{T}"/> (optimizer
    /// steps, pruning masks, loading weights) count, under no-grad too; op outputs start at 0. A backward pass checks
    /// that each tensor its ops saved still has the version it had when saved and throws
    /// <see cref="InvalidOperationException"/> naming the op otherwise. Writes made straight into an array passed to
    /// <see cref="Wrap(float[], int[])"/> are not seen.
    /// </summary>
    public int Version => VersionRef.Value;

    /// <summary>Records an in-place write to this tensor's storage (every view sees the new version).</summary>
    internal void BumpVersion() => VersionRef.Value++;

    /// <summary>
    /// Refuses, while gradients are recorded, a write into a tensor that autograd tracks, as PyTorch does: a leaf that
    /// requires grad (its gradient would describe values it no longer has), or a tensor an op computed (the write
    /// is not recorded, so the gradient would flow as if the old values were still there).
    /// </summary>
    internal void CheckWritable(string op)
    {
        if (!GradMode.IsEnabled) return;
        if (GradFn is not null)
            throw new InvalidOperationException($"{op}: this tensor of shape {Shapes.Format(Dims)} was computed by {GradFn.Name} and autograd does not record in-place writes, so gradients through it would be wrong; write into a Clone(), or under Tensor.NoGrad() if the write must not count for gradients.");
        if (_requiresGrad)
            throw new InvalidOperationException($"{op}: this tensor of shape {Shapes.Format(Dims)} is a leaf that requires grad; change it under Tensor.NoGrad() (as optimizers do), or write into a Detach()ed or cloned tensor.");
    }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Dims.Length;

    /// <summary>A copy of the shape.</summary>
    public int[] Shape => (int[])Dims.Clone();

    /// <summary>A copy of the strides, in elements.</summary>
    public int[] Strides => (int[])StrideArr.Clone();

    /// <summary>Size of dimension <paramref name="axis"/> (negative counts from the end).</summary>
    public int Size(int axis) => Dims[Shapes.NormalizeAxis("Size", axis, Rank, Dims)];

    /// <summary>Whether the elements are laid out densely in row-major order.</summary>
    public bool IsContiguous
    {
        get
        {
            int s = 1;
            for (int i = Dims.Length - 1; i >= 0; i--)
            {
                if (Dims[i] != 1 && StrideArr[i] != s) return false;
                s *= Dims[i];
            }
            return true;
        }
    }

    /// <summary>The gradient accumulated by <see cref="Backward(Tensor?, bool)"/>, or null.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The autograd node that produced this tensor; null for leaves.</summary>
    public Node? GradFn { get; private set; }

    /// <summary>True for tensors created by the user rather than by an op that records a gradient.</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Whether gradients are computed for this tensor. Only leaves can be set.</summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (!IsLeaf) throw new InvalidOperationException("RequiresGrad: can only be set on a leaf tensor; use Detach() to make a new leaf from a computed tensor.");
            _requiresGrad = value;
        }
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor, for chaining.</summary>
    public Tensor RequiresGrad_(bool requiresGrad = true)
    {
        RequiresGrad = requiresGrad;
        return this;
    }

    internal void SetGradFn(Node node)
    {
        GradFn = node;
        _requiresGrad = true;
    }

    /// <summary>The storage array (shared by views); throws once a <see cref="TensorScope"/> has released it.</summary>
    internal Array Storage => _storage ?? throw new ObjectDisposedException(nameof(Tensor),
        $"Tensor: this tensor of shape {Shapes.Format(Dims)} was released when the TensorScope that created it ended; copy it with TensorScope.Keep inside the scope to use it later.");

    internal void Release() => _storage = null;

    /// <summary>Whether a <see cref="TensorScope"/> has released this tensor's storage.</summary>
    public bool IsReleased => _storage is null;

    internal T[] Array<T>() => (T[])Storage;

    /// <summary>
    /// The elements of a contiguous tensor as a writable span over its storage (writes are visible to every view).
    /// Taking it counts as an in-place write: it increments <see cref="Version"/>, so a recorded backward that saved
    /// this tensor refuses to run afterwards, and what evaluation keeps made from a parameter (folded batch norms,
    /// weights in a kernel's layout) is made again. Take a new span for each round of writes: writes through a span
    /// held across an evaluation are not seen by what that evaluation kept. To only read, use <see cref="AsReadOnlySpan{T}"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The tensor is not of element type <typeparamref name="T"/> or not contiguous.</exception>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        var span = SpanChecked<T>("AsSpan");
        BumpVersion();
        return span;
    }

    /// <summary>The elements of a contiguous tensor as a read-only span over its storage; does not change <see cref="Version"/>.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not of element type <typeparamref name="T"/> or not contiguous.</exception>
    public ReadOnlySpan<T> AsReadOnlySpan<T>() where T : unmanaged => SpanChecked<T>("AsReadOnlySpan");

    private Span<T> SpanChecked<T>(string op) where T : unmanaged
    {
        if (DTypeExtensions.Of<T>() != DType)
            throw new InvalidOperationException($"{op}: tensor is {DType.Name()}, not {DTypeExtensions.Of<T>().Name()}.");
        if (!IsContiguous)
            throw new InvalidOperationException($"{op}: tensor of shape {Shapes.Format(Dims)} with strides {Shapes.Format(StrideArr)} is not contiguous; call Contiguous() first.");
        return Array<T>().AsSpan(Offset, NumElements);
    }

    internal Span<T> Span<T>() => ((T[])Storage).AsSpan(Offset, NumElements);

    /// <summary>
    /// Declares this tensor's storage constant weights that kernels may keep in their own layout between calls (as
    /// ONNX Runtime pre-packs initializers): the direct 3x3 convolutions keep a (C,3,3,OC) copy of a (OC,C,3,3)
    /// weight, made again when <see cref="Version"/> or the storage changes. Parameters that require gradients are
    /// kept so without it; this is for other long-lived weights (a fused model's folded batch norms). Every write
    /// to the storage must then go through a tensor (the indexer, <see cref="CopyFrom"/>, or a span from
    /// <see cref="AsSpan{T}"/> taken after the last evaluation that read it: taking the span is what counts as the
    /// write), or the kept copy goes stale; storage from <see cref="Wrap(float[], int[])"/> is never kept. Applies
    /// to every view of the storage.
    /// </summary>
    /// <returns>This tensor.</returns>
    public Tensor KeepKernelLayouts()
    {
        VersionRef.KeepsLayouts = true;
        return this;
    }

    /// <summary>Whether <see cref="KeepKernelLayouts"/> was called on this storage.</summary>
    public bool KeepsKernelLayouts => VersionRef.KeepsLayouts;

    /// <summary>A new leaf that shares storage (and its <see cref="Version"/> counter) with this tensor and records no gradient.</summary>
    public Tensor Detach() => new(Storage, Dims, StrideArr, Offset, VersionRef);

    /// <summary>A contiguous copy with its own storage, recorded by autograd.</summary>
    public Tensor Clone() => Contiguous(force: true);

    /// <summary>Sets <see cref="Grad"/> to null.</summary>
    public void ZeroGrad() => Grad = null;

    /// <summary>Copies the elements, in row-major order, into a new float array (converting float64).</summary>
    public float[] ToArray()
    {
        var c = ContiguousRaw();
        if (DType == DType.Float32) return c.Span<float>().ToArray();
        var r = new float[NumElements];
        TensorPrimitives.ConvertTruncating<double, float>(c.Span<double>(), r);
        return r;
    }

    /// <summary>Copies the elements, in row-major order, into a new double array.</summary>
    public double[] ToDoubleArray()
    {
        var c = ContiguousRaw();
        if (DType == DType.Float64) return c.Span<double>().ToArray();
        var r = new double[NumElements];
        TensorPrimitives.ConvertChecked<float, double>(c.Span<float>(), r);
        return r;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public double Item()
    {
        if (NumElements != 1) throw new InvalidOperationException($"Item: expected a tensor with one element, got shape {Shapes.Format(Dims)}.");
        return DType == DType.Float32 ? Array<float>()[Offset] : Array<double>()[Offset];
    }

    /// <summary>Element access by full index; writes go to the shared storage, are not recorded by autograd and increment <see cref="Version"/>.</summary>
    [IndexerName("Element")]
    public double this[params int[] index]
    {
        get
        {
            int o = ElementOffset(index);
            return DType == DType.Float32 ? Array<float>()[o] : Array<double>()[o];
        }
        set
        {
            int o = ElementOffset(index);
            CheckWritable("Indexer");
            BumpVersion();
            if (DType == DType.Float32) Array<float>()[o] = (float)value;
            else Array<double>()[o] = value;
        }
    }

    private int ElementOffset(int[] index)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (index.Length != Rank)
            throw new ArgumentException($"Indexer: expected {Rank} indices for shape {Shapes.Format(Dims)}, got {index.Length}.");
        int o = Offset;
        for (int i = 0; i < index.Length; i++)
        {
            int ix = index[i] < 0 ? index[i] + Dims[i] : index[i];
            if (ix < 0 || ix >= Dims[i])
                throw new IndexOutOfRangeException($"Indexer: index {index[i]} is out of range for dimension {i} of size {Dims[i]} (shape {Shapes.Format(Dims)}).");
            o += ix * StrideArr[i];
        }
        return o;
    }

    internal static Tensor Empty(DType dtype, int[] shape)
    {
        // every caller overwrites all elements, so skip the zeroing (large outputs are most of a step's allocations);
        // inside a TensorScope the storage is recycled from the scope's pool
        return new Tensor(TensorScope.Allocate(dtype, Shapes.Numel(shape)), shape);
    }

    /// <summary>Uninitialized storage that no scope recycles (the creation functions: their tensors are the user's).</summary>
    internal static Tensor EmptyUnpooled(DType dtype, int[] shape)
    {
        int n = Shapes.Numel(shape);
        return new Tensor(dtype == DType.Float32 ? GC.AllocateUninitializedArray<float>(n) : GC.AllocateUninitializedArray<double>(n), shape);
    }

    internal static Tensor EmptyLike(Tensor t) => Empty(t.DType, (int[])t.Dims.Clone());

    /// <summary>True when autograd should record an op on these inputs.</summary>
    internal static bool NeedsGrad(Tensor a) => GradMode.IsEnabled && a._requiresGrad;

    internal static bool NeedsGrad(Tensor a, Tensor b) => GradMode.IsEnabled && (a._requiresGrad || b._requiresGrad);

    internal static void CheckSameDType(string op, Tensor a, Tensor b)
    {
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: dtypes differ ({a.DType.Name()} vs {b.DType.Name()}): lhs {Shapes.Format(a.Dims)}, rhs {Shapes.Format(b.Dims)}; convert one with To(DType).");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static ref T Ref<T>(Tensor t) => ref MemoryMarshal.GetArrayDataReference((T[])t.Storage);
}
