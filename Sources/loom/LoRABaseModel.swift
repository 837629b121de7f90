import ArgumentParser
import LoomFormats
import LoomHub

/// The GGUF base model of `export-lora` and `convert-lora`: its file, architecture and head
/// counts (which say how llama's Q/K rows are ordered), and adapters read for it in GGUF order.
struct LoRABaseModel {
    let path: String
    let file: GGUFFile
    let architectureName: String
    let architecture: Architecture
    let headCount: Int
    let kvHeadCount: Int
    /// `NAME.block_count`, when the file says.
    let layerCount: Int?

    /// Resolves (fetching if needed) and opens `model`, a GGUF path or catalog name.
    init(_ model: String?) throws {
        path = try ModelLocator.resolve(model)
        file = try GGUFFile(path: path)
        guard let name = file["general.architecture"]?.stringValue else {
            throw ValidationError("\(path): not a GGUF model (general.architecture is missing); LoRA tools need the GGUF base model — convert an HF directory first with `loom convert`")
        }
        architectureName = name
        architecture = try ArchitectureRegistry.gguf(name, path: path)
        headCount = file["\(name).attention.head_count"]?.intValue ?? 0
        kvHeadCount = file["\(name).attention.head_count_kv"]?.intValue ?? headCount
        layerCount = file["\(name).block_count"]?.intValue
    }

    /// Reads the adapter at `adapterPath` and puts it in `space`'s Q/K row order.
    func adapter(_ adapterPath: String, in space: LoRAAdapter.WeightSpace) throws -> LoRAAdapter {
        try LoRAAdapter.load(path: adapterPath, naming: architecture.tensorNames)
            .reordered(to: space, headCount: headCount, kvHeadCount: kvHeadCount, permutesQK: architecture.permutesQK)
    }
}
