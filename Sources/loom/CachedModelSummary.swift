import Foundation
import LoomFormats
import LoomHub

/// What `loom list` shows about one cached model: its quantisation and architecture, read
/// from the GGUF header or from an HF directory's `config.json` / `adapter_config.json`.
struct CachedModelSummary {
    var quant = "-"
    var architecture = "-"

    init(path: String) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        if !isDirectory.boolValue {
            guard path.lowercased().hasSuffix(".gguf"), let file = try? GGUFFile(path: path) else { return }
            architecture = file["general.architecture"]?.stringValue ?? "-"
            if let raw = file["general.file_type"]?.intValue, let type = QuantizationFileType(rawValue: UInt32(raw)) {
                quant = type.description
            }
            return
        }
        if let config = Self.json(path + "/config.json") {
            architecture = (config["architectures"] as? [String])?.first ?? (config["model_type"] as? String) ?? "-"
            quant = (config["torch_dtype"] as? String) ?? "-"
        } else if let adapter = Self.json(path + "/adapter_config.json") {
            architecture = "LoRA adapter" + ((adapter["r"] as? Int).map { " r=\($0)" } ?? "")
            quant = (adapter["base_model_name_or_path"] as? String).map { "for \($0)" } ?? "-"
        }
    }

    private static func json(_ path: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// "1.2 GB", "98 MB", "512 kB".
    static func size(_ bytes: Int64) -> String {
        if bytes >= 1_000_000_000 { return String(format: "%.1f GB", Double(bytes) / 1e9) }
        if bytes >= 1_000_000 { return "\((bytes + 500_000) / 1_000_000) MB" }
        return "\(bytes / 1000) kB"
    }

    /// "2026-12-06 21:30" in local time, or "-".
    static func date(_ date: Date?) -> String {
        guard let date else { return "-" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }
}
