import Foundation
import LoomGeneration

/// Builds the two OpenAI logprob shapes from token logprobs.
enum LogprobFormat {
    /// One chat `logprobs.content` entry: token, logprob, bytes and `top` alternatives.
    static func chatEntry(_ served: ServedModel, _ chosen: TokenLogprob, _ top: [TokenLogprob], count: Int) -> [String: Any] {
        func item(_ lp: TokenLogprob) -> [String: Any] {
            ["token": served.tokenText(lp.id), "logprob": JSON.number(lp.logprob),
             "bytes": served.tokenizer.tokenBytes(lp.id).map { Int($0) }]
        }
        var entry = item(chosen)
        entry["top_logprobs"] = top.prefix(count).map(item)
        return entry
    }

    /// The legacy completions shape, accumulated token by token:
    /// `{"tokens", "token_logprobs", "top_logprobs", "text_offset"}`; the first echoed
    /// prompt token has `null` logprob and alternatives (nothing precedes it).
    struct Legacy {
        var tokens: [String] = []
        var tokenLogprobs: [Any] = []
        var topLogprobs: [Any] = []
        var textOffset: [Int] = []
        var offset = 0
        let count: Int

        init(count: Int, startOffset: Int = 0) {
            self.count = count
            offset = startOffset
        }

        mutating func append(_ served: ServedModel, id: Int, logprob: TokenLogprob?, top: [TokenLogprob]) {
            let text = served.tokenText(id)
            tokens.append(text)
            textOffset.append(offset)
            offset += text.count
            if let logprob {
                tokenLogprobs.append(JSON.number(logprob.logprob))
                var map: [String: Any] = [:]
                for alt in top.prefix(count) {
                    let key = served.tokenText(alt.id)
                    if map[key] == nil { map[key] = JSON.number(alt.logprob) }
                }
                topLogprobs.append(map)
            } else {
                tokenLogprobs.append(NSNull())
                topLogprobs.append(NSNull())
            }
        }

        var object: [String: Any] {
            ["tokens": tokens, "token_logprobs": tokenLogprobs, "top_logprobs": topLogprobs, "text_offset": textOffset]
        }
    }
}
