/// `config.json`'s `quantization_config` for transformers' BitNet integration
/// (`quant_method: "bitnet"`, `BitNetQuantConfig` in transformers/utils/quantization_config.py):
/// the layers' linear weights are stored packed, four ternary values per uint8, each with a
/// `weight_scale` (transformers/integrations/bitnet.py).
///
/// Only what Loom can run exactly is accepted; everything else is an ``HFConfigError`` naming
/// the field: another `quant_method`, `quantization_mode: "online"` (float weights ternarised
/// on every forward, a training format), an unknown `linear_class`, or `use_rms_norm: true`.
public struct HFBitNetQuantization: Sendable, Equatable {
    /// transformers' module for the packed linears, which decides how `weight_scale` is used.
    public enum LinearClass: String, Sendable, Equatable {
        /// `BitLinear`: output divided by `weight_scale` (the Llama3-8B-1.58 card).
        case bitLinear = "bitlinear"
        /// `AutoBitLinear` (offline): output multiplied by `weight_scale`
        /// (microsoft/bitnet-b1.58-2B-4T).
        case autoBitLinear = "autobitlinear"
    }

    public let linearClass: LinearClass

    public init(linearClass: LinearClass) {
        self.linearClass = linearClass
    }

    /// The `quantization_config` object of `config.json`, or nil when there is none.
    init?(config r: HFJSONReader, path: String) throws {
        guard let object = try r.objectValue("quantization_config") else { return nil }
        let q = HFJSONReader(object: object, path: path, prefix: "quantization_config.")
        guard let method = try q.string("quant_method") else { throw q.fail("quant_method", "missing") }
        guard method == "bitnet" else {
            throw q.fail("quant_method", "'\(method)' is not supported (Loom reads 'bitnet' checkpoints; other quantised HF checkpoints: convert them with their own tools first)")
        }
        // Defaults as in BitNetQuantConfig.__init__.
        let linear = try q.string("linear_class") ?? "bitlinear"
        guard let linearClass = LinearClass(rawValue: linear) else {
            throw q.fail("linear_class", "'\(linear)' is not supported (known: bitlinear, autobitlinear)")
        }
        let mode = try q.string("quantization_mode") ?? "offline"
        guard mode == "offline" else {
            throw q.fail("quantization_mode", "'\(mode)' is not supported (only 'offline': packed ternary weights with their weight_scale)")
        }
        if try q.bool("use_rms_norm") == true {
            throw q.fail("use_rms_norm", "an RMSNorm inside each BitLinear is not supported")
        }
        self.linearClass = linearClass
    }
}
