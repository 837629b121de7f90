import Foundation
import FuzzSupport
import LoomGeneration
@testable import LoomServer

/// The server's request decoding, as `/v1/chat/completions` does it before admission: the
/// body → `JSONFields` → model name, messages (`ChatMessage.conversation`), tools → the chat
/// template (Qwen2.5's, which uses tools and tool calls) → `GenerationRequest` and each
/// choice's options; and the same bytes as a `/v1/embeddings` body (`APIRequestDecoder.embedding`).
/// Every failure must be an `APIError` (a 400), never a trap.
/// Internal API, hence `@testable` (scripts/fuzz.sh builds with `-enable-testing`).
private let formatter: ChatFormatter = {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Corpus/Jinja/qwen2.5.jinja").standardized.path
    do {
        let source = try String(contentsOfFile: path, encoding: .utf8)
        return try ChatFormatter(templateSource: source, bosToken: "", eosToken: "<|im_end|>",
                                 date: Date(timeIntervalSince1970: 1_700_000_000))
    } catch {
        fatalError("FuzzServerRequest needs the Qwen2.5 template at \(path): \(error)")
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzServerRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let body = Data(bytes: data, count: size)
    do {
        let fields = try JSONFields(body: body)
        _ = try fields.string("model")
        if fields.raw("messages") is [Any] {
            let messages = try ChatMessage.conversation(fromJSON: body)
            var tools: Data?
            if let t = fields.raw("tools") as? [Any] { tools = JSON.encode(t) }
            _ = try? formatter.render(messages, tools: tools, addGenerationPrompt: true)
        }
        for chat in [true, false] {
            let request = try GenerationRequest(fields, vocabularySize: 151_936, defaultMaxTokens: 512, chatLogprobs: chat)
            for i in 0..<request.n { _ = request.options(forChoice: i) }
        }
        _ = try fields.bool("echo")
        _ = try fields.strings("stop")
    } catch is APIError {
    } catch is ChatError {
    } catch {
        fatalError("request decoding threw \(type(of: error)), not an APIError: \(error)")
    }
    // The same bytes as a `/v1/embeddings` body.
    do {
        _ = try APIRequestDecoder.embedding(body)
    } catch is APIError {
    } catch {
        fatalError("embedding request decoding threw \(type(of: error)), not an APIError: \(error)")
    }
    return 0
}

@_cdecl("FuzzServerRequest_main")
public func fuzzServerRequestMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    _ = formatter
    return FuzzDriver.run(argc, argv, fuzzServerRequest)
}
