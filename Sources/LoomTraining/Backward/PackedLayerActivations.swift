/// A layer's saved activations in bf16/f16 training (``PrecisionPolicy``), kept until the
/// backward pass: the tensors that are 16-bit under autocast (the projections' inputs and
/// outputs, the attention's q/k/v and output, SiLU(gate)·up) are stored as 16-bit patterns —
/// exactly, since the forward pass has already rounded them — and the f32 ones (the residual
/// stream entering the layer and after attention, the RMSNorm and softmax statistics) as f32,
/// as PyTorch saves them. ``unpack(into:)`` restores the layer for its backward pass.
final class PackedLayerActivations {
    private let halves: [[UInt16]]   // normed1, q, k, v, attended, normed2, gate, up, act
    private let floats: [[Float]]    // input, rms1, lse, mid, rms2

    private static func sixteenBit(_ a: LayerActivations) -> [TrainingBuffer<Float>] {
        [a.normed1, a.q, a.k, a.v, a.attended, a.normed2, a.gate, a.up, a.act]
    }

    private static func thirtyTwoBit(_ a: LayerActivations) -> [TrainingBuffer<Float>] {
        [a.input, a.rms1, a.lse, a.mid, a.rms2]
    }

    init(_ a: LayerActivations, policy: PrecisionPolicy) {
        halves = Self.sixteenBit(a).map { buffer in (0..<buffer.count).map { policy.bits(buffer[$0]) } }
        floats = Self.thirtyTwoBit(a).map(\.array)
    }

    /// Writes the saved values back into `a` (a layer of the same shape).
    func unpack(into a: LayerActivations, policy: PrecisionPolicy) {
        for (buffer, values) in zip(Self.sixteenBit(a), halves) {
            for i in 0..<buffer.count { buffer[i] = policy.value(values[i]) }
        }
        for (buffer, values) in zip(Self.thirtyTwoBit(a), floats) {
            for i in 0..<buffer.count { buffer[i] = values[i] }
        }
    }

    /// Bytes held.
    var bytes: Int { halves.reduce(0) { $0 + 2 * $1.count } + floats.reduce(0) { $0 + 4 * $1.count } }
}
