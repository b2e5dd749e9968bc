/// Reverse-mode automatic differentiation.
///
/// A `Variable` holds a value and, when it takes part in a differentiable computation, its
/// gradient. Each op on variables computes its value with a kernel and, only when some input
/// requires a gradient and recording is on, keeps a closure that maps the output's gradient
/// to its inputs' gradients (llm.c's backward functions, called in reverse topological order).
/// Leaves with `requiresGrad` (parameters) accumulate gradients across `backward` calls, which
/// is how gradient accumulation works; frozen parameters (LoRA's base weights) have
/// `requiresGrad == false`, and ops skip the work of their weight gradients entirely.
public final class Variable {
    public internal(set) var value: Tensor
    /// The accumulated gradient, same shape as `value`; nil until something flows into it.
    public var grad: Tensor?
    public let requiresGrad: Bool
    public var name: String?

    var parents: [Variable]
    var backwardFn: ((Tensor) -> Void)?

    /// A leaf: an input (requiresGrad false) or a trainable parameter (true).
    public init(_ value: Tensor, requiresGrad: Bool = false, name: String? = nil) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.name = name
        self.parents = []
        self.backwardFn = nil
    }

    /// The result of an op. The backward closure is kept only when it will be needed.
    public init(result: Tensor, parents: [Variable], backward: @escaping (Tensor) -> Void) {
        let needs = GradMode.isEnabled && parents.contains { $0.requiresGrad }
        self.value = result
        self.requiresGrad = needs
        self.parents = needs ? parents : []
        self.backwardFn = needs ? backward : nil
    }

    public var shape: [Int] { value.shape }
    public var isLeaf: Bool { backwardFn == nil }

    /// Adds `g` into this variable's gradient. `owned` says the caller will not use `g`
    /// again, so it can become the gradient without a copy.
    public func accumulateGrad(_ g: Tensor, owned: Bool = false) {
        guard requiresGrad else { return }
        precondition(g.shape == value.shape, "gradient shape \(g.shape) does not match value shape \(value.shape)")
        if let existing = grad {
            let src = g.contiguous()
            Elementwise.axpy(1, src.data, existing.data, n: existing.count)
        } else {
            grad = owned && g.isContiguous ? g : g.copy()
        }
    }

    /// Runs `body(buffer, accumulate)` on this variable's gradient buffer: a new buffer to be
    /// overwritten (accumulate false) when there is no gradient yet, else the existing one to
    /// add into. Kernels with a beta/accumulate argument write gradients in place this way.
    public func withGradBuffer(_ body: (Tensor, Bool) -> Void) {
        guard requiresGrad else { return }
        if let g = grad {
            body(g, true)
        } else {
            let g = Tensor(uninitialized: value.shape)
            body(g, false)
            grad = g
        }
    }

    /// A zero-filled gradient buffer (created if needed), for kernels that only accumulate.
    public func zeroedGradBuffer() -> Tensor {
        if let g = grad { return g }
        let g = Tensor(zeros: value.shape)
        grad = g
        return g
    }

    public func zeroGrad() { grad = nil }

    /// Back-propagates from this variable. The seed gradient defaults to ones (a scalar loss).
    /// Intermediate gradients and saved activations are released as soon as they are used.
    public func backward(seed: Tensor? = nil) {
        guard requiresGrad else { return }
        let order = topologicalOrder()
        accumulateGrad(seed ?? Tensor(repeating: 1, shape: value.shape), owned: true)
        for node in order.reversed() {
            guard let fn = node.backwardFn else { continue }
            if let g = node.grad { fn(g) }
            node.backwardFn = nil
            node.parents = []
            node.grad = nil
        }
    }

    /// Nodes with a backward closure reachable from self, parents before children.
    func topologicalOrder() -> [Variable] {
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            if node.backwardFn == nil || visited.contains(ObjectIdentifier(node)) { continue }
            visited.insert(ObjectIdentifier(node))
            stack.append((node, true))
            for p in node.parents where p.backwardFn != nil && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        return order
    }
}

/// Whether ops record backward closures. Turn it off for inference and reference passes.
public enum GradMode {
    @TaskLocal static var enabledValue = true
    public static var isEnabled: Bool { enabledValue }

    public static func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
        try $enabledValue.withValue(false, operation: body)
    }

    /// Recording on, whatever the caller's mode (a checkpointed block's second forward pass).
    public static func withGrad<R>(_ body: () throws -> R) rethrows -> R {
        try $enabledValue.withValue(true, operation: body)
    }
}
