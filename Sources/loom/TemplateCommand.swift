import ArgumentParser
import Foundation
import LoomFormats
import LoomGeneration
import LoomHub
import LoomModels

/// `loom template`: print exactly what a chat template renders (for debugging templates).
struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Print the prompt a chat template renders for a conversation.")

    @Option(name: [.short, .customLong("model")], help: "GGUF file or model name whose template to use (default: smollm2).")
    var model: String?
    @OptionGroup var templateOptions: TemplateOptions
    @Option(help: "JSON conversation file ([{role, content}…] or {\"messages\": […]}); - for standard input.")
    var messages: String?
    @Option(help: "JSON file with an array of tool definitions.") var tools: String?
    @Flag(help: "End with the assistant's header, where an answer would begin.") var addGenerationPrompt = false

    func run() throws {
        let conversation: [ChatMessage]
        if let messages {
            let data = messages == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Self.read(messages)
            conversation = try ChatMessage.conversation(fromJSON: data)
        } else {
            conversation = [.user("Hello!")]
        }
        let toolData = try tools.map(Self.read)
        let languageModel = try LanguageModel(path: ModelLocator.resolve(model))
        let formatter = try templateOptions.formatter(for: languageModel)
        StandardOutput.write(try formatter.render(conversation, tools: toolData, addGenerationPrompt: addGenerationPrompt))
    }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        return data
    }
}
