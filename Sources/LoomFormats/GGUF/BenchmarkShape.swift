import Foundation
import LoomKernels

/// The layer shapes of the models in Loom's brief, for speed benchmarks on random weights.
///
/// Speed depends on the shapes, not on the weights, so a benchmark at the shape of Llama‑3‑8B
/// needs no real checkpoint: ``writeRandomModel(to:layers:tokenizer:seed:)`` writes an F16 GGUF
/// with N(0, 0.02) weights at the real widths and vocabulary, with as few layers as a
/// benchmark wants (tokens/s scales with the layer count). `Benchmarks/shape_models.py` then
/// quantises it with llama.cpp's own quantiser and `Benchmarks/peer_bench.py` runs both
/// engines on the same files.
public struct BenchmarkShape: Sendable, Equatable {
    /// The name the CLI and the benchmark scripts use (`llama3-8b`, …).
    public let name: String
    /// `llama` or `qwen2` (q/k/v biases).
    public let architecture: String
    public let hidden: Int
    public let feedForward: Int
    public let heads: Int
    public let kvHeads: Int
    public let vocabulary: Int
    /// The layer count of the full model (a benchmark usually writes fewer).
    public let layers: Int
    /// Whether the LM head is the token embedding (no `output.weight`).
    public let tiedOutput: Bool

    var hasQKVBias: Bool { architecture == "qwen2" }

    /// A shape of your own (tests use small ones); `hidden` must be a multiple of `heads`.
    public init(name: String, architecture: String, hidden: Int, feedForward: Int, heads: Int, kvHeads: Int,
                vocabulary: Int, layers: Int, tiedOutput: Bool) {
        self.name = name
        self.architecture = architecture
        self.hidden = hidden
        self.feedForward = feedForward
        self.heads = heads
        self.kvHeads = kvHeads
        self.vocabulary = vocabulary
        self.layers = layers
        self.tiedOutput = tiedOutput
    }

    /// Llama‑3‑8B (Theia, Gradient): config.json of meta-llama/Meta-Llama-3-8B.
    public static let llama3_8b = BenchmarkShape(
        name: "llama3-8b", architecture: "llama", hidden: 4096, feedForward: 14336, heads: 32, kvHeads: 8,
        vocabulary: 128_256, layers: 32, tiedOutput: false)
    /// Qwen2‑1.5B (HEFT‑Qwen): config.json of Qwen/Qwen2-1.5B; q/k/v biases, tied head.
    public static let qwen2_1_5b = BenchmarkShape(
        name: "qwen2-1.5b", architecture: "qwen2", hidden: 1536, feedForward: 8960, heads: 12, kvHeads: 2,
        vocabulary: 151_936, layers: 28, tiedOutput: true)
    /// BitNet b1.58‑large's layers (1bitLLM/bitnet_b1_58-large) with SmolLM2's vocabulary.
    public static let bitnetLarge = BenchmarkShape(
        name: "bitnet-large", architecture: "llama", hidden: 1536, feedForward: 4096, heads: 16, kvHeads: 16,
        vocabulary: 49_152, layers: 24, tiedOutput: true)

    /// Every shape, by name.
    public static let all = [llama3_8b, qwen2_1_5b, bitnetLarge]

    /// The shape called `name`, or nil.
    public static func named(_ name: String) -> BenchmarkShape? {
        all.first { $0.name == name }
    }

    /// Writes an F16 model of this shape with `layers` layers to `path` (atomically).
    ///
    /// - The tokenizer is `tokenizer`'s (every `tokenizer.*` key), its token list padded with
    ///   unreachable `<|bench_pad_N|>` user-defined tokens to ``vocabulary`` entries, so the
    ///   embedding and the LM head have the real row count: the head is a large share of a
    ///   small model's decode.
    /// - Matrices are F16 N(0, 0.02), norms 1, biases F32 N(0, 0.02). Values depend only on
    ///   `seed` and the tensor's name, not on the thread count.
    /// - Throws: `GGUFError` if the tokenizer has more tokens than ``vocabulary``, or on a
    ///   write failure (no partial file is left).
    public func writeRandomModel(to path: String, layers: Int, tokenizer: GGUFFile, seed: UInt64 = 0) throws {
        guard layers > 0 else {
            throw GGUFError(path: path, field: "layers", offset: nil, reason: "\(layers) layers; at least 1 is needed")
        }
        var w = GGUFWriter()
        let a = architecture
        w.setMetadata("general.architecture", .string(a))
        w.setMetadata("general.name", .string("random-\(name)-\(layers)L"))
        w.setMetadata("\(a).block_count", .uint32(UInt32(layers)))
        w.setMetadata("\(a).context_length", .uint32(8192))
        w.setMetadata("\(a).embedding_length", .uint32(UInt32(hidden)))
        w.setMetadata("\(a).feed_forward_length", .uint32(UInt32(feedForward)))
        w.setMetadata("\(a).attention.head_count", .uint32(UInt32(heads)))
        w.setMetadata("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.setMetadata("\(a).attention.layer_norm_rms_epsilon", .float32(hasQKVBias ? 1e-6 : 1e-5))
        w.setMetadata("\(a).rope.freq_base", .float32(hasQKVBias ? 1_000_000 : 500_000))
        w.setMetadata("general.file_type", .uint32(1))  // LLAMA_FTYPE_MOSTLY_F16
        try copyPaddedTokenizer(from: tokenizer, into: &w, path: path)

        let headDim = hidden / heads
        func matrix(_ tensor: String, rows: Int, columns: Int) throws {
            try w.addTensor(name: tensor, type: .f16, dimensions: [columns, rows]) {
                Self.randomHalves(count: rows * columns, seed: seed ^ Self.hash(tensor))
            }
        }
        func ones(_ tensor: String, _ count: Int) throws {
            try w.addTensor(name: tensor, type: .f32, dimensions: [count],
                            data: [Float](repeating: 1, count: count).withUnsafeBytes { Array($0) })
        }
        func bias(_ tensor: String, _ count: Int) throws {
            let values = Self.normals(count: count, seed: seed ^ Self.hash(tensor))
            try w.addTensor(name: tensor, type: .f32, dimensions: [count], data: values.withUnsafeBytes { Array($0) })
        }
        try matrix("token_embd.weight", rows: vocabulary, columns: hidden)
        try ones("output_norm.weight", hidden)
        if !tiedOutput { try matrix("output.weight", rows: vocabulary, columns: hidden) }
        for layer in 0..<layers {
            let p = "blk.\(layer)."
            try ones(p + "attn_norm.weight", hidden)
            try matrix(p + "attn_q.weight", rows: heads * headDim, columns: hidden)
            try matrix(p + "attn_k.weight", rows: kvHeads * headDim, columns: hidden)
            try matrix(p + "attn_v.weight", rows: kvHeads * headDim, columns: hidden)
            if hasQKVBias {
                try bias(p + "attn_q.bias", heads * headDim)
                try bias(p + "attn_k.bias", kvHeads * headDim)
                try bias(p + "attn_v.bias", kvHeads * headDim)
            }
            try matrix(p + "attn_output.weight", rows: hidden, columns: heads * headDim)
            try ones(p + "ffn_norm.weight", hidden)
            try matrix(p + "ffn_gate.weight", rows: feedForward, columns: hidden)
            try matrix(p + "ffn_up.weight", rows: feedForward, columns: hidden)
            try matrix(p + "ffn_down.weight", rows: hidden, columns: feedForward)
        }
        try w.write(to: path)
    }

    /// `tokenizer`'s `tokenizer.*` keys with the token list (and its types and scores) padded
    /// to ``vocabulary`` entries.
    private func copyPaddedTokenizer(from tokenizer: GGUFFile, into w: inout GGUFWriter, path: String) throws {
        guard let tokens = tokenizer["tokenizer.ggml.tokens"]?.arrayValue else {
            throw GGUFError(path: tokenizer.path, field: "tokenizer.ggml.tokens", offset: nil,
                            reason: "missing: the tokenizer source has no token list")
        }
        guard tokens.count <= vocabulary else {
            throw GGUFError(path: tokenizer.path, field: "tokenizer.ggml.tokens", offset: nil,
                            reason: "\(tokens.count) tokens, more than the \(name) vocabulary of \(vocabulary)")
        }
        let pad = vocabulary - tokens.count
        let tokenizerKeys = Set(tokenizer.metadataKeys.filter { !$0.hasPrefix("tokenizer.") })
        w.copyMetadata(from: tokenizer, excluding: tokenizerKeys)
        w.setMetadata("tokenizer.ggml.tokens", .array(tokens + (0..<pad).map { .string("<|bench_pad_\($0)|>") }))
        if let types = tokenizer["tokenizer.ggml.token_type"]?.arrayValue {
            // 4 = USER_DEFINED (llama.cpp's llama_token_type).
            w.setMetadata("tokenizer.ggml.token_type", .array(types + repeatElement(.int32(4), count: pad)))
        }
        if let scores = tokenizer["tokenizer.ggml.scores"]?.arrayValue {
            w.setMetadata("tokenizer.ggml.scores", .array(scores + repeatElement(.float32(0), count: pad)))
        }
    }

    /// Values per independently seeded chunk: chunks run in parallel, and the values do not
    /// depend on how many run at once.
    private static let chunk = 1 << 20

    /// `count` F16 values of N(0, 0.02), as little-endian bytes.
    static func randomHalves(count: Int, seed: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 2 * count)
        out.withUnsafeMutableBytes { raw in
            let halves = raw.bindMemory(to: UInt16.self)
            let chunks = (count + chunk - 1) / chunk
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let start = c * chunk, end = min(count, start + chunk)
                var rng = SplitMix64(seed: seed &+ UInt64(c) &* 0x9E37_79B9_7F4A_7C15)
                var i = start
                while i < end {
                    let (z0, z1) = rng.normalPair()
                    halves[i] = floatToHalf(0.02 * z0).littleEndian
                    if i + 1 < end { halves[i + 1] = floatToHalf(0.02 * z1).littleEndian }
                    i += 2
                }
            }
        }
        return out
    }

    /// `count` Float values of N(0, 0.02) from one generator (for short vectors).
    static func normals(count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var out: [Float] = []
        out.reserveCapacity(count + 1)
        while out.count < count {
            let (z0, z1) = rng.normalPair()
            out.append(0.02 * z0)
            out.append(0.02 * z1)
        }
        return Array(out.prefix(count))
    }

    /// FNV-1a of a tensor name: each tensor gets its own stream from one seed.
    static func hash(_ text: String) -> UInt64 {
        text.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014; public-domain C by Vigna, prng.di.unimi.it) with
/// Box–Muller normals.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Two independent standard normals (Box–Muller on two uniforms in (0, 1]).
    mutating func normalPair() -> (Float, Float) {
        let u1 = Float((next() >> 40) + 1) / Float(1 << 24)
        let u2 = Float(next() >> 40) / Float(1 << 24)
        let r = (-2 * logf(u1)).squareRoot()
        let angle = 2 * Float.pi * u2
        return (r * cosf(angle), r * sinf(angle))
    }
}
