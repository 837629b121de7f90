import Foundation
import LoomJinja

/// Reads a PEFT LoRA directory: `adapter_config.json` (peft `LoraConfig`) and
/// `adapter_model.safetensors`, whose keys look like
/// `base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` (peft
/// `utils/save_and_load.py`, the adapter name removed on save).
///
/// What the file holds decides what is adapted — `target_modules` and `layers_to_transform`
/// only chose which tensors PEFT created — but the config is still checked so a file that
/// disagrees with it, or asks for something Loom does not do, is an error rather than a
/// silently different model.
enum PEFTAdapterReader {
    static let configName = "adapter_config.json"
    static let weightsName = "adapter_model.safetensors"
    /// Module names a llama/qwen2/mistral/phi3 adapter may target (PEFT matches by suffix).
    static let knownModules: Set<String> = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                                            "qkv_proj", "gate_up_proj", "lm_head"]
    /// `modules_to_save` entries Loom applies: the RMSNorms (`loom finetune --train-norms`),
    /// by the last part of the module name.
    static let savableModules: Set<String> = ["input_layernorm", "post_attention_layernorm", "norm"]

    /// Per-module rank and alpha (peft `LoraModel._create_and_replace`), and the scale rule.
    struct Scaling {
        let rank: Int
        let alpha: Double
        let rankPattern: [(String, Regex<AnyRegexOutput>, Int)]
        let alphaPattern: [(String, Regex<AnyRegexOutput>, Double)]
        let rsLoRA: Bool

        /// peft `get_pattern_key`: the first pattern `p` with `re.match(rf"(.*\.)?({p})$", key)`.
        static func firstMatch<T>(_ patterns: [(String, Regex<AnyRegexOutput>, T)], _ key: String) -> T? {
            patterns.first { (try? $0.1.wholeMatch(in: key)) != nil }?.2
        }

        func rank(for module: String) -> Int { Self.firstMatch(rankPattern, module) ?? rank }

        /// `lora_alpha / r`, or `/ √r` with `use_rslora` (peft `LoraLayer.update_layer`).
        func scale(for module: String) -> Float {
            let r = Double(rank(for: module)), alpha = Self.firstMatch(alphaPattern, module) ?? alpha
            return Float(rsLoRA ? alpha / r.squareRoot() : alpha / r)
        }
    }

    static func read(directory: String, naming: HFTensorNaming) throws -> LoRAAdapter {
        let configPath = (directory as NSString).appendingPathComponent(configName)
        let weightsPath = (directory as NSString).appendingPathComponent(weightsName)
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw LoRAAdapterError(path: directory, reason: "no \(configName): not a PEFT adapter directory")
        }
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            let pickle = (directory as NSString).appendingPathComponent("adapter_model.bin")
            if FileManager.default.fileExists(atPath: pickle) {
                throw LoRAAdapterError(path: pickle, reason: "PyTorch pickle adapters are not read (they can run code when loaded); save the adapter as safetensors (PEFT `save_pretrained(..., safe_serialization=True)`)")
            }
            throw LoRAAdapterError(path: directory, reason: "no \(weightsName)")
        }
        guard let data = FileManager.default.contents(atPath: configPath) else {
            throw LoRAAdapterError(path: configPath, reason: "cannot be read")
        }
        let (scaling, usesDoRA, savesModules) = try parseConfig(data, path: configPath)
        let file = try SafetensorsFile(path: weightsPath)
        return try readTensors(file, scaling: scaling, usesDoRA: usesDoRA, savesModules: savesModules, naming: naming, path: weightsPath)
    }

    /// Checks `adapter_config.json` and returns the scale rule, whether DoRA is on and whether
    /// `modules_to_save` lists (norm) modules.
    static func parseConfig(_ data: Data, path: String) throws -> (Scaling, Bool, Bool) {
        let r: HFJSONReader
        do { r = HFJSONReader(object: try HFJSONReader.load(data: data, path: path), path: path) } catch let e as HFConfigError {
            throw LoRAAdapterError(path: path, field: e.field, reason: e.reason)
        }
        func fail(_ field: String, _ reason: String) -> LoRAAdapterError { LoRAAdapterError(path: path, field: field, reason: reason) }
        func wrap<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let e as HFConfigError { throw LoRAAdapterError(path: path, field: e.field, reason: e.reason) }
        }
        if let type = try wrap({ try r.string("peft_type") }), type != "LORA" {
            throw fail("peft_type", "'\(type)' is not a LoRA adapter (only LORA is supported)")
        }
        guard let rank = try wrap({ try r.positiveInt("r") }) else { throw fail("r", "is missing") }
        guard let alpha = try wrap({ try r.double("lora_alpha") }) else {
            throw fail("lora_alpha", "is missing; the scale alpha/r cannot be known")
        }
        if let bias = try wrap({ try r.string("bias") }), bias != "none" {
            throw fail("bias", "'\(bias)' trains bias vectors; only \"none\" is supported")
        }
        if try wrap({ try r.bool("lora_bias") }) == true {
            throw fail("lora_bias", "LoRA bias terms are not supported")
        }
        if try wrap({ try r.bool("fan_in_fan_out") }) == true {
            throw fail("fan_in_fan_out", "is for GPT-2 style Conv1D weights; llama/qwen2 adapters have it false")
        }
        // Whole modules PEFT saved beside the LoRA factors: only RMSNorm weights are applied.
        let saved = try wrap({ try r.array("modules_to_save") }) ?? []
        let unsupported = saved.compactMap { entry -> String? in
            guard case .string(let name) = entry else { return entry.kindDescription }
            return savableModules.contains(String(name.split(separator: ".").last ?? "")) ? nil : name
        }
        if !unsupported.isEmpty {
            throw fail("modules_to_save", "replacing whole modules (\(unsupported.joined(separator: ", "))) is not supported (only the RMSNorms input_layernorm, post_attention_layernorm and norm are); merge the adapter with PEFT first")
        }
        // A list must name modules of a llama-family model: PEFT matches an entry against a
        // module name's end (`name == entry || name.hasSuffix("." + entry)`), so full names such
        // as `model.layers.1.mlp.down_proj` are entries too. A string is a regex PEFT matched
        // against full module names, and only the tensors it produced matter.
        switch r.present("target_modules") {
        case .array(let targets)?:
            for case .string(let name) in targets where !knownModules.contains(String(name.split(separator: ".").last ?? "")) {
                throw fail("target_modules", "unknown target module '\(name)' (known: \(knownModules.sorted().joined(separator: ", ")))")
            }
        case .string(let pattern)? where pattern != "all-linear":
            do { _ = try Regex(pattern) } catch {
                throw fail("target_modules", "'\(pattern)' is not a regular expression Loom can read: \(error)")
            }
        case nil, .string?: break
        case let other?: throw fail("target_modules", "is \(other.kindDescription), expected a list of names or a regular expression")
        }
        func patterns<T>(_ key: String, _ convert: (JSONValue) -> T?) throws -> [(String, Regex<AnyRegexOutput>, T)] {
            guard let object = try wrap({ try r.objectValue(key) }) else { return [] }
            return try object.keys.sorted().map { pattern in
                guard let value = convert(object[pattern]!) else { throw fail("\(key).\(pattern)", "is not a positive number") }
                do {
                    return (pattern, try Regex("(.*\\.)?(\(pattern))"), value)
                } catch {
                    throw fail(key, "'\(pattern)' is not a regular expression Loom can use: \(error)")
                }
            }
        }
        let scaling = Scaling(
            rank: rank, alpha: alpha,
            rankPattern: try patterns("rank_pattern") { HFJSONReader.exactInteger($0).flatMap { $0 > 0 ? $0 : nil } },
            alphaPattern: try patterns("alpha_pattern") { HFJSONReader.number($0) },
            rsLoRA: try wrap({ try r.bool("use_rslora") }) ?? false)
        return (scaling, try wrap({ try r.bool("use_dora") }) ?? false, !saved.isEmpty)
    }

    static func readTensors(_ file: SafetensorsFile, scaling: Scaling, usesDoRA: Bool, savesModules: Bool = false,
                            naming: HFTensorNaming, path: String) throws -> LoRAAdapter {
        // Group the tensors by module: "model.layers.0.self_attn.q_proj" → A, B, magnitude.
        var parts: [String: [String: SafetensorsTensorInfo]] = [:]
        var norms: [String: [Float]] = [:]
        for info in file.tensors {
            var key = info.name
            if key.hasPrefix("base_model.model.") { key.removeFirst("base_model.model.".count) }
            // A saved module's weight (peft `modules_to_save`, saved under the module's own key).
            if let gguf = naming.ggufName(forHF: key), LoRAAdapter.isNormTensor(gguf) {
                guard savesModules else {
                    throw LoRAAdapterError(path: path, field: info.name, reason: "is a whole norm weight but adapter_config.json has no modules_to_save")
                }
                guard info.shape.count == 1 else {
                    throw LoRAAdapterError(path: path, field: info.name, reason: "a norm weight must be a vector, got shape \(info.shape)")
                }
                norms[gguf] = try file.floats(info)
                continue
            }
            let kinds = [".lora_A.weight": "A", ".lora_B.weight": "B", ".lora_magnitude_vector.weight": "m", ".lora_magnitude_vector": "m"]
            guard let (suffix, kind) = kinds.first(where: { key.hasSuffix($0.key) }) else {
                if key.contains("lora_embedding_") {
                    throw LoRAAdapterError(path: path, field: info.name, reason: "LoRA on the token embedding is not supported")
                }
                throw LoRAAdapterError(path: path, field: info.name, reason: "is not a LoRA tensor (expected …lora_A.weight, …lora_B.weight or …lora_magnitude_vector)")
            }
            parts[String(key.dropLast(suffix.count)), default: [:]][kind] = info
        }
        guard !parts.isEmpty else { throw LoRAAdapterError(path: path, reason: "holds no LoRA tensors") }
        var modules: [String: LoRAAdapter.Module] = [:]
        for (module, tensors) in parts {
            guard let ggufName = naming.ggufName(forHF: module + ".weight") else {
                throw LoRAAdapterError(path: path, field: module, reason: "targets a module the base architecture does not have")
            }
            guard let aInfo = tensors["A"], let bInfo = tensors["B"] else {
                throw LoRAAdapterError(path: path, field: module, reason: "needs both lora_A and lora_B")
            }
            guard aInfo.shape.count == 2, bInfo.shape.count == 2 else {
                throw LoRAAdapterError(path: path, field: module, reason: "lora_A \(aInfo.shape) and lora_B \(bInfo.shape) must be matrices")
            }
            let rank = aInfo.shape[0], inputs = aInfo.shape[1], outputs = bInfo.shape[0]
            guard bInfo.shape[1] == rank, rank > 0 else {
                throw LoRAAdapterError(path: path, field: module, reason: "rank mismatch: lora_A is \(aInfo.shape) ([r, in]) but lora_B is \(bInfo.shape) ([out, r])")
            }
            let expectedRank = scaling.rank(for: module)
            guard rank == expectedRank else {
                throw LoRAAdapterError(path: path, field: module, reason: "rank \(rank) in the tensors but the config says r = \(expectedRank)")
            }
            var magnitude: [Float]?
            if let m = tensors["m"] {
                guard usesDoRA else { throw LoRAAdapterError(path: path, field: module, reason: "has a DoRA magnitude vector but use_dora is false") }
                guard m.shape == [outputs] else {
                    throw LoRAAdapterError(path: path, field: module, reason: "DoRA magnitude has shape \(m.shape), expected [\(outputs)]")
                }
                magnitude = try file.floats(m)
            } else if usesDoRA {
                throw LoRAAdapterError(path: path, field: module, reason: "use_dora is true but lora_magnitude_vector is missing")
            }
            modules[ggufName] = LoRAAdapter.Module(rank: rank, inputs: inputs, outputs: outputs,
                                                   a: try file.floats(aInfo), b: try file.floats(bInfo),
                                                   scale: scaling.scale(for: module), magnitude: magnitude)
        }
        return LoRAAdapter(path: (path as NSString).deletingLastPathComponent, architecture: nil, space: .huggingFace, modules: modules,
                           norms: norms)
    }
}
