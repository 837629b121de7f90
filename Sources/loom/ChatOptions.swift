import ArgumentParser
import Foundation
import LoomGeneration
import LoomModels

/// Template flags shared by `chat` and `template`.
struct TemplateOptions: ParsableArguments {
    @Option(help: "A Jinja chat template file to use instead of the model's own.")
    var template: String?
    @Option(help: "The date templates print (YYYY-MM-DD; default: today).")
    var date: String?

    func validate() throws {
        if let date, Self.parseDate(date) == nil {
            throw ValidationError("--date must look like 2024-07-26, got \"\(date)\"")
        }
    }

    static func parseDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.date(from: text)
    }

    /// The template override's text, read from `--template`.
    func templateSource() throws -> String? {
        guard let template else { return nil }
        guard let data = FileManager.default.contents(atPath: template) else {
            throw ValidationError("cannot read the template file \(template)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    func formatter(for model: LanguageModel) throws -> ChatFormatter {
        try ChatFormatter(model: model, template: templateSource(), date: date.flatMap(Self.parseDate))
    }
}
