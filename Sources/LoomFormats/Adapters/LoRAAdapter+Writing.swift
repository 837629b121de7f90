import Foundation
import LoomKernels

extension LoRAAdapter {
    /// The same adapter with its Q/K factors in `space`'s row order. Only architectures whose
    /// GGUF Q/K rows llama.cpp permutes (`permutesQK`, llama) differ between the two orders;
    /// for the others the adapter is returned relabelled.
    public func reordered(to space: WeightSpace, headCount: Int, kvHeadCount: Int, permutesQK: Bool) -> LoRAAdapter {
        guard space != self.space else { return self }
        var copy = self
        copy = LoRAAdapter(path: path, architecture: architecture, space: space, modules: modules, norms: norms)
        guard permutesQK else { return copy }
        for (name, module) in modules {
            let heads: Int
            if name.hasSuffix(".attn_q.weight") { heads = headCount } else if name.hasSuffix(".attn_k.weight") { heads = kvHeadCount } else { continue }
            let reorder = space == .gguf ? HFTensorNaming.permuteForGGUF : HFTensorNaming.unpermuteFromGGUF
            var m = module
            m.b = reorder(module.b, module.outputs, heads)
            m.magnitude = module.magnitude.map { reorder($0, module.outputs, heads) }
            copy.modules[name] = m
        }
        return copy
    }

    /// Writes a llama.cpp GGUF LoRA (`convert_lora_to_gguf.py`'s layout, which
    /// `llama-cli --lora` loads): `lora_a` as ggml `[in, r]`, `lora_b` as `[r, out]`, F32 or
    /// F16, atomically. The adapter must be in GGUF row order (``reordered(to:headCount:kvHeadCount:permutesQK:)``).
    ///
    /// llama.cpp has one `adapter.lora.alpha` for the file and scales by `alpha / r`. When every
    /// module has the same rank and scale that is exact; otherwise (rsLoRA and per-module
    /// patterns included) each module's scale is folded into its B and alpha is written as 0,
    /// which llama.cpp reads as "scale 1" — exact either way. DoRA has no llama.cpp form.
    public func writeGGUF(to output: String, architecture: String, type: GGMLType = .f32) throws {
        guard space == .gguf else {
            throw LoRAAdapterError(path: output, reason: "internal: write a GGUF LoRA from an adapter in GGUF row order")
        }
        guard norms.isEmpty else {
            throw LoRAAdapterError(path: path, field: "modules_to_save", reason: "llama.cpp's GGUF LoRA holds only lora_a/lora_b pairs, not the replaced norm weights (\(norms.keys.sorted().joined(separator: ", "))); keep the PEFT directory, or merge it into the model with `loom export-lora`")
        }
        guard !usesDoRA else {
            throw LoRAAdapterError(path: path, field: "use_dora", reason: "llama.cpp's GGUF LoRA has no DoRA magnitudes; merge it into the model with `loom export-lora` instead")
        }
        guard type == .f32 || type == .f16 else {
            throw LoRAAdapterError(path: output, reason: "LoRA tensors are written as f32 or f16, not \(type)")
        }
        let shared = modules.values.first.map { ($0.rank, $0.scale) }
        let uniform = shared.map { s in modules.values.allSatisfy { $0.rank == s.0 && $0.scale == s.1 } } ?? true
        var w = GGUFWriter()
        w.setMetadata("general.type", .string("adapter"))
        w.setMetadata("general.architecture", .string(architecture))
        w.setMetadata("general.name", .string((path as NSString).lastPathComponent))
        w.setMetadata("adapter.type", .string("lora"))
        w.setMetadata("adapter.lora.alpha", .float32(uniform ? Float(shared.map { Float($0.0) * $0.1 } ?? 0) : 0))
        func bytes(_ values: [Float]) -> [UInt8] {
            if type == .f32 { return values.withUnsafeBytes { Array($0) } }
            var out = [UInt8](repeating: 0, count: values.count * 2)
            values.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBytes { RowQuantizer.quantize(.f16, src.baseAddress!, into: $0.baseAddress!, count: values.count) }
            }
            return out
        }
        for name in modules.keys.sorted() {
            let m = modules[name]!
            let b = uniform ? m.b : m.b.map { $0 * m.scale }
            try w.addTensor(name: name + ".lora_a", type: type, dimensions: [m.inputs, m.rank], data: bytes(m.a))
            try w.addTensor(name: name + ".lora_b", type: type, dimensions: [m.rank, m.outputs], data: bytes(b))
        }
        try w.write(to: output)
    }

    /// Writes a PEFT directory (`adapter_config.json` + `adapter_model.safetensors`, F32) that
    /// PEFT's `PeftModel.from_pretrained` loads. The adapter must be in Hugging Face row order.
    /// `r` and `lora_alpha` are the first module's; modules that differ get exact
    /// `rank_pattern`/`alpha_pattern` entries (their full module names). The scale is written
    /// as `lora_alpha = scale·r` with `use_rslora: false`, the same update for PEFT and for
    /// converters that ignore `use_rslora` (llama.cpp's convert_lora_to_gguf.py).
    ///
    /// Which modules PEFT creates follows the file exactly, so a strict load
    /// (`set_peft_model_state_dict`) finds every tensor and no missing one: when every adapted
    /// layer has the same projections, `target_modules` names them and `layers_to_transform`
    /// lists the layers (omitted when they are all `layerCount` layers); otherwise
    /// `target_modules` lists every full module name. `dropout` is recorded as `lora_dropout`
    /// (PEFT applies it only in train mode, so it does not change what the adapter computes).
    ///
    /// ``norms`` are written as PEFT saves `modules_to_save`: the full weight under the
    /// module's own key (`base_model.model.model.layers.N.input_layernorm.weight`), with the
    /// full module names in `modules_to_save` (PEFT matches those entries by `key.endswith`, so
    /// a bare `norm` would also catch every `input_layernorm`).
    public func writePEFT(to directory: String, naming: HFTensorNaming, layerCount: Int? = nil, dropout: Double = 0) throws {
        guard space == .huggingFace else {
            throw LoRAAdapterError(path: directory, reason: "internal: write a PEFT adapter from an adapter in Hugging Face row order")
        }
        guard let first = modules.keys.sorted().first.map({ modules[$0]! }) else {
            throw LoRAAdapterError(path: path, reason: "holds no LoRA tensors")
        }
        try GGUFToHFExporter.prepareDirectory(directory)
        var writer = SafetensorsWriter()
        var targets = Set<String>(), fullNames: [String] = [], rankPattern: [String: Any] = [:], alphaPattern: [String: Any] = [:]
        var projectionsByLayer: [Int: Set<String>] = [:], allHaveLayers = true
        for name in modules.keys.sorted() {
            let m = modules[name]!
            guard let hf = naming.hfName(forGGUF: name), hf.hasSuffix(".weight") else {
                throw LoRAAdapterError(path: path, field: name, reason: "has no Hugging Face module name")
            }
            let module = String(hf.dropLast(".weight".count))
            let parts = module.split(separator: ".")
            targets.insert(String(parts.last!))
            fullNames.append(module)
            if let at = parts.firstIndex(of: "layers"), at + 1 < parts.count, let layer = Int(parts[at + 1]) {
                projectionsByLayer[layer, default: []].insert(String(parts.last!))
            } else {
                allHaveLayers = false
            }
            if m.rank != first.rank { rankPattern[module] = m.rank }
            let alpha = Double(m.scale) * Double(m.rank)
            if alpha != Double(first.scale) * Double(first.rank) || m.rank != first.rank { alphaPattern[module] = alpha }
            let key = "base_model.model." + module
            try writer.addTensor(name: key + ".lora_A.weight", dtype: .f32, shape: [m.rank, m.inputs], floats: m.a)
            try writer.addTensor(name: key + ".lora_B.weight", dtype: .f32, shape: [m.outputs, m.rank], floats: m.b)
            if let magnitude = m.magnitude {
                try writer.addTensor(name: key + ".lora_magnitude_vector", dtype: .f32, shape: [m.outputs], floats: magnitude)
            }
        }
        var saved: [String] = []
        for name in norms.keys.sorted() {
            guard let hf = naming.hfName(forGGUF: name), hf.hasSuffix(".weight") else {
                throw LoRAAdapterError(path: path, field: name, reason: "has no Hugging Face module name")
            }
            let module = String(hf.dropLast(".weight".count))
            saved.append(module)
            try writer.addTensor(name: "base_model.model." + hf, dtype: .f32, shape: [norms[name]!.count], floats: norms[name]!)
        }
        var config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": first.rank,
            "lora_alpha": Double(first.scale) * Double(first.rank), "target_modules": targets.sorted(),
            "rank_pattern": rankPattern, "alpha_pattern": alphaPattern, "use_rslora": false,
            "use_dora": usesDoRA, "bias": "none", "fan_in_fan_out": false, "lora_dropout": dropout,
        ]
        if !saved.isEmpty { config["modules_to_save"] = saved }
        let layers = projectionsByLayer.keys.sorted()
        if allHaveLayers, Set(projectionsByLayer.values).count == 1 {
            if let layerCount, layers == Array(0..<layerCount) {
                // every layer: target_modules alone says it
            } else {
                config["layers_to_transform"] = layers
            }
        } else {
            config["target_modules"] = fullNames.sorted()
        }
        try writer.write(to: (directory as NSString).appendingPathComponent(PEFTAdapterReader.weightsName))
        try GGUFToHFExporter.writeJSON(config, to: (directory as NSString).appendingPathComponent(PEFTAdapterReader.configName))
    }
}
