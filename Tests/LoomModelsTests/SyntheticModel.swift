import Foundation
import LoomFormats
import LoomKernels

/// Tiny random-weight models written with Loom's own GGUF writer, for tests that need a
/// model of a given shape, architecture or defect without a real checkpoint.
struct SyntheticModel {
    var architecture = "llama"
    var embedding = 32
    var heads = 4
    var kvHeads = 2
    var feedForward = 48
    var layers = 2
    var context = 64
    var withBiases = false
    var tiedOutput = true
    var seed: UInt64 = 1
    /// Tensors to leave out or store with a wrong shape, to test load errors.
    var omit: Set<String> = []
    var reshape: [String: [Int]] = [:]
    var extraMetadata: [String: GGUFValue] = [:]
    /// Changes applied to a tensor's random values before they are written (row-major
    /// `[rows × columns]` for a matrix), e.g. a merged adapter delta.
    var transform: [String: ([Float]) -> [Float]] = [:]

    /// 256 byte tokens in GPT-2's byte-to-unicode order plus two control tokens.
    static let tokens: [String] = {
        var printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var mapping = [Int: Int]()
        var next = 256
        for b in 0..<256 {
            if printable.contains(b) { mapping[b] = b } else { mapping[b] = next; next += 1 }
        }
        printable.removeAll()
        return (0..<256).map { String(Character(Unicode.Scalar(mapping[$0]!)!)) } + ["<|im_start|>", "<|im_end|>"]
    }()

    var vocabulary: Int { Self.tokens.count }

    mutating func random(_ count: Int, scale: Float = 0.2) -> [Float] {
        (0..<count).map { _ in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(seed >> 40) / Float(1 << 24) - 0.5) * 2 * scale
        }
    }

    /// Writes the model to a temporary file and returns its path.
    mutating func write() throws -> String {
        var w = GGUFWriter()
        let a = architecture
        w.setMetadata("general.architecture", .string(a))
        w.setMetadata("general.name", .string("synthetic-\(a)"))
        w.setMetadata("\(a).block_count", .uint32(UInt32(layers)))
        w.setMetadata("\(a).context_length", .uint32(UInt32(context)))
        w.setMetadata("\(a).embedding_length", .uint32(UInt32(embedding)))
        w.setMetadata("\(a).feed_forward_length", .uint32(UInt32(feedForward)))
        w.setMetadata("\(a).attention.head_count", .uint32(UInt32(heads)))
        w.setMetadata("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.setMetadata("\(a).attention.layer_norm_rms_epsilon", .float32(1e-5))
        w.setMetadata("\(a).rope.freq_base", .float32(10_000))
        w.setMetadata("tokenizer.ggml.model", .string("gpt2"))
        w.setMetadata("tokenizer.ggml.pre", .string(a == "qwen2" ? "qwen2" : "smollm"))
        w.setMetadata("tokenizer.ggml.tokens", .array(Self.tokens.map { .string($0) }))
        w.setMetadata("tokenizer.ggml.token_type", .array(Self.tokens.indices.map { .int32($0 < 256 ? 1 : 3) }))
        w.setMetadata("tokenizer.ggml.merges", .array([.string("Ġ t")]))
        w.setMetadata("tokenizer.ggml.eos_token_id", .uint32(257))
        for (k, v) in extraMetadata { w.setMetadata(k, v) }
        let hd = embedding / heads
        func add(_ name: String, _ dims: [Int]) throws {
            if omit.contains(name) { return }
            let shape = reshape[name] ?? dims
            var values = random(shape.reduce(1, *))
            if let change = transform[name] { values = change(values) }
            try w.addTensor(name: name, type: .f32, dimensions: shape, data: values.withUnsafeBytes { Array($0) })
        }
        try add("token_embd.weight", [embedding, vocabulary])
        try add("output_norm.weight", [embedding])
        if !tiedOutput { try add("output.weight", [embedding, vocabulary]) }
        for l in 0..<layers {
            let p = "blk.\(l)."
            try add(p + "attn_norm.weight", [embedding])
            try add(p + "attn_q.weight", [embedding, heads * hd])
            try add(p + "attn_k.weight", [embedding, kvHeads * hd])
            try add(p + "attn_v.weight", [embedding, kvHeads * hd])
            if withBiases {
                try add(p + "attn_q.bias", [heads * hd])
                try add(p + "attn_k.bias", [kvHeads * hd])
                try add(p + "attn_v.bias", [kvHeads * hd])
            }
            try add(p + "attn_output.weight", [heads * hd, embedding])
            try add(p + "ffn_norm.weight", [embedding])
            try add(p + "ffn_gate.weight", [embedding, feedForward])
            try add(p + "ffn_up.weight", [embedding, feedForward])
            try add(p + "ffn_down.weight", [feedForward, embedding])
        }
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("loom-synthetic-\(UUID().uuidString).gguf").path
        try w.write(to: path)
        return path
    }
}
