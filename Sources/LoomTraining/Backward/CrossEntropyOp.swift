/// Causal-LM cross-entropy as HF's `LlamaForCausalLM` computes it (transformers
/// `loss/loss_utils.py` `ForCausalLMLoss`): the labels are shifted left by one (the logits at
/// position t predict label t+1, the last position predicts nothing), labels of -100 are
/// ignored, and the loss is the mean of `logsumexp(logits) − logits[label]` over the
/// remaining positions.
public enum CrossEntropyOp {
    /// The label each position is scored against: `labels[t + 1]`, and -100 (ignored) at the
    /// last position — `ForCausalLMLoss`'s `pad(labels, (0, 1), value=-100)[..., 1:]`.
    public static func shiftedTargets(_ labels: [Int32]) -> [Int32] {
        guard !labels.isEmpty else { return [] }
        return Array(labels.dropFirst()) + [-100]
    }

    /// The ignore index of `torch.nn.functional.cross_entropy`.
    public static let ignoreIndex: Int32 = -100

    /// For `rows` rows of `vocab` logits (in place) and their `targets`: returns the summed
    /// loss of the rows whose target is not ignored, and replaces each row's logits by its
    /// gradient `(softmax − onehot) · gradScale` (0 for ignored rows). `gradScale` is
    /// 1 / (non-ignored positions of the whole batch), so that the gradients are those of
    /// the mean.
    public static func lossAndGradient<T: TrainingScalar>(
        _ logits: UnsafeMutablePointer<T>, targets: UnsafePointer<Int32>, rows: Int, vocab: Int, gradScale: T
    ) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let l = logits + r * vocab
            let target = Int(targets[r])
            if targets[r] == ignoreIndex {
                for i in 0..<vocab { l[i] = 0 }
                continue
            }
            var m = -T.infinity
            for i in 0..<vocab { m = max(m, l[i]) }
            var sum: T = 0
            for i in 0..<vocab { sum += T.exponential(l[i] - m) }
            let lse = m + T.logarithm(sum)
            total += Double(lse - l[target])
            for i in 0..<vocab { l[i] = T.exponential(l[i] - lse) * gradScale }
            l[target] -= gradScale
        }
        return total
    }
}
