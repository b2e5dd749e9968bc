/// Log-softmax and the language-model losses built on it.
extension Ops {
    /// Log-softmax over the last dimension.
    public static func logSoftmax(_ x: Variable) -> Variable {
        let xv = x.value.contiguous()
        let v = xv.shape.last!, n = xv.count / v
        let out = Tensor(uninitialized: xv.shape), lse = Tensor(uninitialized: [n])
        LogSoftmax.forward(xv.data, y: out.data, lse: lse.data, n: n, v: v)
        return Variable(result: out, parents: [x]) { [unowned x] g in
            let gc = g.contiguous()
            x.withGradBuffer { dx, acc in LogSoftmax.backward(y: out.data, dy: gc.data, dx: dx.data, n: n, v: v, accumulate: acc) }
        }
    }

    /// log p(target) per row of logits [..., V]: result has the leading shape. A negative
    /// target (such as -100, PyTorch's ignore_index) marks a row that is ignored: its value is 0
    /// and it passes no gradient.
    public static func gatherLogProbs(_ logits: Variable, targets: [Int32]) -> Variable {
        let xv = logits.value.contiguous()
        let v = xv.shape.last!, n = xv.count / v
        precondition(targets.count == n, "gatherLogProbs: \(targets.count) targets for \(n) rows")
        let logp = Tensor(uninitialized: Array(xv.shape.dropLast())), lse = Tensor(uninitialized: [n])
        targets.withUnsafeBufferPointer { LogSoftmax.gatherForward(xv.data, targets: $0.baseAddress!, logp: logp.data, lse: lse.data, n: n, v: v) }
        return Variable(result: logp, parents: [logits]) { [unowned logits] g in
            let gc = g.contiguous()
            logits.withGradBuffer { dx, acc in
                targets.withUnsafeBufferPointer {
                    LogSoftmax.gatherBackward(xv.data, targets: $0.baseAddress!, lse: lse.data, dlogp: gc.data, dx: dx.data, n: n, v: v, accumulate: acc)
                }
            }
        }
    }

    /// Mean cross-entropy over the rows whose target is not ignored (negative):
    /// torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100).
    public static func crossEntropy(_ logits: Variable, targets: [Int32]) -> Variable {
        let counted = targets.filter { $0 >= 0 }.count
        precondition(counted > 0, "crossEntropy: every target is ignored (an empty loss mask)")
        return (-1 / Float(counted)) * gatherLogProbs(logits, targets: targets).sum()
    }

    /// Sum of log p(target) over each sequence: logits [B, T, V], targets [B, T] (negative =
    /// not counted) -> [B]. DPO compares these sums between policy and reference.
    public static func sequenceLogProbs(_ logits: Variable, targets: [Int32]) -> Variable {
        precondition(logits.value.rank == 3, "sequenceLogProbs expects [batch, time, vocab], got \(logits.shape)")
        return gatherLogProbs(logits, targets: targets).sumLastDim()
    }
}
