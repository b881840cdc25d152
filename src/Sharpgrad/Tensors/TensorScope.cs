namespace Sharpgrad;

/// <summary>
/// A region of code (one training or evaluation step) whose op outputs are recycled: while a scope is open on a
/// thread, the storage of tensors that ops create there (outputs and gradients of at least
/// <see cref="MinPooledElements"/> elements) comes from a per-thread pool, and when the scope is disposed that
/// storage goes back to the pool and those tensors (and their views) are released: reading one afterwards throws.
/// A step that runs in a scope allocates almost nothing once the pool is warm, so there is no garbage collection,
/// zeroing or page faulting of fresh memory per step.
/// Tensors made by the creation functions (Zeros, Randn, FromArray, ...) and parameters updated in place are not
/// pooled. To keep a computed tensor past the scope, copy it with <see cref="Keep"/>.
/// <code>
/// using (TensorScope.Begin())
/// {
///     var loss = Losses.CrossEntropy(model.Forward(x), labels);
///     optimizer.ZeroGrad();
///     loss.Backward();
///     optimizer.Step();
///     lossValue = loss.Item();
///     model.ZeroGrad(); // the gradients are pooled too: clear every parameter's, not only the optimizer's
/// }
/// </code>
/// </summary>
public sealed class TensorScope : IDisposable
{
    /// <summary>Smaller outputs are left to the garbage collector (pooling them would cost more than it saves).</summary>
    public const int MinPooledElements = 1024;

    /// <summary>The most bytes a thread's pool holds between scopes; arrays returned past it are dropped.</summary>
    public const long MaxPooledBytes = 1L << 30;

    [ThreadStatic] private static TensorScope? t_current;
    [ThreadStatic] private static Dictionary<(Type Element, int Length), Stack<Array>>? t_pool;
    [ThreadStatic] private static long t_pooledBytes;

    private readonly TensorScope? _parent;
    private readonly int _thread = Environment.CurrentManagedThreadId;
    private readonly HashSet<Array> _rented = new(ReferenceEqualityComparer.Instance);
    private readonly List<Tensor> _tensors = [];
    private readonly int _minPooled;
    private readonly bool _poison;
    private bool _disposed;

    private TensorScope(TensorScope? parent, int minPooled, bool poison)
    {
        _parent = parent;
        _minPooled = minPooled;
        _poison = poison;
    }

    /// <summary>Opens a scope on this thread (scopes nest; dispose them in reverse order, on the same thread).</summary>
    public static TensorScope Begin() => t_current = new TensorScope(t_current, MinPooledElements, poison: false);

    /// <summary>
    /// For tests: a scope that pools outputs of any size and fills every array it hands out with NaN, so an op that
    /// reads its uninitialized output before writing it shows up.
    /// </summary>
    internal static TensorScope BeginPoisoned() => t_current = new TensorScope(t_current, 1, poison: true);

    /// <summary>The innermost open scope of this thread, or null.</summary>
    public static TensorScope? Current => t_current;

    /// <summary>Bytes held by this thread's pool (arrays not in use by an open scope).</summary>
    public static long PooledBytes => t_pooledBytes;

    /// <summary>
    /// Bytes of the pooled storage this scope has handed out so far (op outputs of at least
    /// <see cref="MinPooledElements"/> elements, and what ops keep for their backward): what a step run inside it holds
    /// at once, e.g. a model's activations for one batch.
    /// </summary>
    public long RentedBytes => _rented.Sum(Bytes);

    /// <summary>Empties this thread's pool, leaving its arrays to the garbage collector.</summary>
    public static void Trim()
    {
        t_pool?.Clear();
        t_pooledBytes = 0;
    }

    /// <summary>A copy of <paramref name="t"/> whose storage is not pooled, so it outlives every scope (no autograd history).</summary>
    public static Tensor Keep(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        // the copy's array is its own (no caller holds it, unlike Tensor.Wrap's), so kernels may keep layouts of it
        // when it is marked with KeepKernelLayouts (a fused model's folded batch norm)
        var copy = t.DType == DType.Float32 ? Tensor.WrapCore(t.ToArray(), [], "Keep") : Tensor.WrapCore(t.ToDoubleArray(), [], "Keep");
        return copy.Reshape(t.Shape); // a view of the unpooled copy (also right for a zero-dimensional tensor)
    }

    /// <summary>Storage for an op output: from the pool inside a scope when large enough, else a new array (uninitialized either way).</summary>
    internal static Array Allocate(DType dtype, int n) => dtype == DType.Float32 ? Rent<float>(n) : Rent<double>(n);

    /// <summary>
    /// An uninitialized array that an op keeps until the end of the step (e.g. max pooling's argmax for its backward):
    /// from the pool inside a scope when large enough, else new.
    /// </summary>
    internal static T[] Rent<T>(int n) where T : unmanaged
    {
        var scope = t_current;
        if (scope is null || n < scope._minPooled) return GC.AllocateUninitializedArray<T>(n);
        T[] a;
        if (t_pool is not null && t_pool.TryGetValue((typeof(T), n), out var stack) && stack.Count > 0)
        {
            a = (T[])stack.Pop();
            t_pooledBytes -= Bytes(a);
        }
        else
        {
            a = GC.AllocateUninitializedArray<T>(n);
        }
        if (scope._poison)
        {
            if (a is float[] f) f.AsSpan().Fill(float.NaN);
            else if (a is double[] d) d.AsSpan().Fill(double.NaN);
            else if (a is int[] i) i.AsSpan().Fill(int.MinValue);
        }
        scope._rented.Add(a);
        return a;
    }

    /// <summary>Called for every new tensor: one over storage rented by an open scope is released with that scope.</summary>
    internal static void Track(Tensor t, Array storage)
    {
        for (var s = t_current; s is not null; s = s._parent)
        {
            if (s._rented.Contains(storage))
            {
                s._tensors.Add(t);
                return;
            }
        }
    }

    /// <summary>Releases the tensors whose storage this scope rented and returns that storage to the pool.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (Environment.CurrentManagedThreadId != _thread)
            throw new InvalidOperationException("TensorScope: disposed on another thread than the one that began it.");
        if (!ReferenceEquals(t_current, this))
            throw new InvalidOperationException("TensorScope: scopes must be disposed in reverse order of Begin (an inner scope is still open).");
        _disposed = true;
        t_current = _parent;
        foreach (var t in _tensors) t.Release();
        t_pool ??= [];
        foreach (var a in _rented)
        {
            long bytes = Bytes(a);
            if (t_pooledBytes + bytes > MaxPooledBytes) continue;
            var key = (a.GetType().GetElementType()!, a.Length);
            if (!t_pool.TryGetValue(key, out var stack)) t_pool[key] = stack = new Stack<Array>();
            stack.Push(a);
            t_pooledBytes += bytes;
        }
        _tensors.Clear();
        _rented.Clear();
    }

    private static long Bytes(Array a) => (long)a.Length * (a is double[] ? 8 : 4); // float, double or int
}
