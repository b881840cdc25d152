namespace Sharpgrad;

/// <summary>Reverse-mode differentiation over the recorded graph.</summary>
internal static class Engine
{
    public static void Backward(Tensor root, Tensor? gradient, bool retainGraph)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException($"Backward: tensor of shape {Shapes.Format(root.Dims)} does not require grad and has no grad_fn.");
        if (gradient is null)
        {
            if (root.NumElements != 1)
                throw new InvalidOperationException($"Backward: gradient can be implicit only for a scalar output, got shape {Shapes.Format(root.Dims)}; pass a gradient of that shape.");
            gradient = Tensor.OnesLike(root);
        }
        else
        {
            if (!Shapes.SameShape(gradient.Dims, root.Dims))
                throw new ArgumentException($"Backward: gradient shape {Shapes.Format(gradient.Dims)} differs from output shape {Shapes.Format(root.Dims)}.");
            Tensor.CheckSameDType("Backward", root, gradient);
        }

        using var _ = GradMode.NoGrad();
        if (root.GradFn is null)
        {
            AccumulateLeaf(root, gradient);
            return;
        }
        if (root.GradFn.IsReleased)
            throw new InvalidOperationException("Backward: the graph was already released by an earlier Backward(); pass retainGraph: true to the first call to backpropagate twice.");

        var order = TopologicalOrder(root.GradFn);
        var grads = new Dictionary<Node, Tensor>(ReferenceEqualityComparer.Instance) { [root.GradFn] = gradient };
        foreach (var node in order)
        {
            if (!grads.Remove(node, out var g)) continue;
            node.CheckSavedVersions();
            node.RunHooks(g);
            var inputGrads = node.Backward(g);
            var inputs = node.Inputs;
            for (int i = 0; i < inputs.Length; i++)
            {
                var input = inputs[i];
                var ig = inputGrads[i];
                if (input is null || ig is null || !input.RequiresGrad) continue;
                if (!Shapes.SameShape(ig.Dims, input.Dims))
                    throw new InvalidOperationException($"{node.Name}: internal error, gradient {i} has shape {Shapes.Format(ig.Dims)} but the input has {Shapes.Format(input.Dims)}.");
                if (input.GradFn is { } next)
                    grads[next] = grads.TryGetValue(next, out var acc) ? acc.Add(ig) : ig;
                else
                    AccumulateLeaf(input, ig);
            }
        }
        if (!retainGraph)
            foreach (var node in order) node.Release();
    }

    private static void AccumulateLeaf(Tensor leaf, Tensor g)
    {
        leaf.RunLeafHooks(g);
        if (leaf.Grad is null)
            leaf.Grad = g.Contiguous(force: true);
        else
            leaf.Grad = leaf.Grad.Add(g);
    }

    /// <summary>Nodes ordered so that each comes before the nodes its inputs came from.</summary>
    private static List<Node> TopologicalOrder(Node root)
    {
        var visited = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var post = new List<Node>();
        var stack = new Stack<(Node Node, IEnumerator<Node> Next)>();
        visited.Add(root);
        stack.Push((root, root.NextNodes.GetEnumerator()));
        while (stack.Count > 0)
        {
            var (node, it) = stack.Peek();
            if (it.MoveNext())
            {
                var child = it.Current;
                if (visited.Add(child)) stack.Push((child, child.NextNodes.GetEnumerator()));
            }
            else
            {
                stack.Pop();
                post.Add(node);
            }
        }
        post.Reverse();
        return post;
    }
}
