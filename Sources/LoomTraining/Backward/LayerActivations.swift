/// What one decoder layer's forward pass saves for its backward pass, for `n` tokens
/// (shapes in the comments; `d` embedding, `q`/`kv` attention widths, `f` feed-forward).
final class LayerActivations {
    let input: TrainingBuffer<Float>     // [n × d] the residual stream entering the layer
    let normed1: TrainingBuffer<Float>   // [n × d] RMSNorm(input)
    let rms1: TrainingBuffer<Float>      // [n] its 1/rms
    let q: TrainingBuffer<Float>         // [n × q] rotated queries
    let k: TrainingBuffer<Float>         // [n × kv] rotated keys
    let v: TrainingBuffer<Float>         // [n × kv]
    let attended: TrainingBuffer<Float>  // [n × q] attention output (o_proj input)
    let lse: TrainingBuffer<Float>       // [n × heads] softmax log-sum-exp per row and head
    let mid: TrainingBuffer<Float>       // [n × d] residual stream after attention
    let normed2: TrainingBuffer<Float>   // [n × d] RMSNorm(mid)
    let rms2: TrainingBuffer<Float>      // [n]
    let gate: TrainingBuffer<Float>      // [n × f] gate_proj output
    let up: TrainingBuffer<Float>        // [n × f] up_proj output
    let act: TrainingBuffer<Float>       // [n × f] silu(gate)·up (down_proj input)

    init(tokens n: Int, d: Int, qDim: Int, kvDim: Int, heads: Int, ffn: Int) {
        input = TrainingBuffer(zeros: n * d)
        normed1 = TrainingBuffer(zeros: n * d)
        rms1 = TrainingBuffer(zeros: n)
        q = TrainingBuffer(zeros: n * qDim)
        k = TrainingBuffer(zeros: n * kvDim)
        v = TrainingBuffer(zeros: n * kvDim)
        attended = TrainingBuffer(zeros: n * qDim)
        lse = TrainingBuffer(zeros: n * heads)
        mid = TrainingBuffer(zeros: n * d)
        normed2 = TrainingBuffer(zeros: n * d)
        rms2 = TrainingBuffer(zeros: n)
        gate = TrainingBuffer(zeros: n * ffn)
        up = TrainingBuffer(zeros: n * ffn)
        act = TrainingBuffer(zeros: n * ffn)
    }

    /// Bytes held.
    var bytes: Int {
        [input, normed1, rms1, q, k, v, attended, lse, mid, normed2, rms2, gate, up, act].reduce(0) { $0 + $1.count } * 4
    }
}
