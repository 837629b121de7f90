// TokenRiskAnalysis — the HEFT card's pipeline on Loom's Swift API: rate crypto tokens
// from their name, address and description as a likely rug-pull or a growth project.
//
//   swift run -c release TokenRiskAnalysis Examples/TokenRiskAnalysis/tokens.json [-m MODEL]
//
// Each token is put to the model as a chat question. The verdict is not parsed from free
// text (small models ramble): the model's log-likelihood of each label as the start of its
// answer decides. Small models prefer one label whatever the input, so the scores are
// calibrated against a content-free listing ("N/A" everywhere; Zhao et al. 2021, "Calibrate
// before use"): P(rug-pull) is the softmax over the two labels' log-likelihoods minus the
// content-free ones. A one-sentence reason is then generated greedily.
import Foundation
import LoomGeneration

struct TokenListing: Decodable {
    let name: String
    let symbol: String
    let address: String
    let description: String
}

struct Rating {
    let listing: TokenListing
    let rugPullProbability: Double
    let reason: String
    var verdict: String { rugPullProbability >= 0.5 ? "rug-pull" : "growth" }
}

let systemPrompt = """
You are a crypto security analyst. Given a token's name, symbol, contract address and \
description, decide whether it is likely a rug-pull scam or a legitimate growth project. \
Answer with one label, "rug-pull" or "growth", then one sentence of reasons.
"""

func question(for token: TokenListing) -> String {
    """
    Token: \(token.name) (\(token.symbol))
    Contract: \(token.address)
    Description: \(token.description)
    Is this token a rug-pull or growth?
    """
}

/// Two worked examples put before each question (few-shot), so the label format and the
/// kind of evidence are clear even to a small model.
let examples: [ChatMessage] = [
    .user(question(for: TokenListing(
        name: "MegaPump Finance", symbol: "MPF", address: "0x7a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d",
        description: "Anonymous team, unverified contract, owner can mint unlimited tokens, liquidity not locked, 25% tax on sells."))),
    .assistant("rug-pull. Unlimited minting, unlocked liquidity and punitive sell taxes let the owner drain buyers."),
    .user(question(for: TokenListing(
        name: "Aave", symbol: "AAVE", address: "0x7fc66500c84a76ad7e9c93437bfc5ac33e2ddae9",
        description: "Lending protocol with public audits, years of operation, on-chain governance and deep liquidity on major exchanges."))),
    .assistant("growth. Audited, long-running and governed in the open, with broad liquidity."),
]

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(1)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var modelName: String?
if let i = arguments.firstIndex(of: "-m") {
    guard i + 1 < arguments.count else { fail("-m needs a model name or path") }
    modelName = arguments[i + 1]
    arguments.removeSubrange(i...(i + 1))
}
guard arguments.count == 1 else { fail("usage: TokenRiskAnalysis TOKENS.json [-m MODEL]") }
guard let data = FileManager.default.contents(atPath: arguments[0]) else { fail("cannot read \(arguments[0])") }
let listings: [TokenListing]
do {
    listings = try JSONDecoder().decode([TokenListing].self, from: data)
} catch {
    fail("\(arguments[0]) is not a JSON array of {name, symbol, address, description}: \(error)")
}

do {
    let llm = try await LLM.load(modelName, contextLength: 2048, progress: .terminal)
    func labelScores(_ listing: TokenListing) async throws -> (rug: Double, growth: Double) {
        let conversation = [.system(systemPrompt)] + examples + [.user(question(for: listing))]
        return (try await llm.logLikelihood(of: "rug-pull", after: conversation),
                try await llm.logLikelihood(of: "growth", after: conversation))
    }
    let bias = try await labelScores(TokenListing(name: "N/A", symbol: "N/A", address: "N/A", description: "N/A"))
    var ratings: [Rating] = []
    for (index, listing) in listings.enumerated() {
        FileHandle.standardError.write(Data("rating \(index + 1)/\(listings.count): \(listing.name)\n".utf8))
        let scores = try await labelScores(listing)
        let probability = 1 / (1 + exp((scores.growth - bias.growth) - (scores.rug - bias.rug)))
        let label = probability >= 0.5 ? "rug-pull" : "growth"
        var options = GenerationOptions(maxTokens: 48, sampling: .greedy, stopStrings: ["\n"])
        options.stopAtEndOfGeneration = true
        let reasonConversation = [.system(systemPrompt)] + examples + [.user(question(for: listing)), .assistant(label + "."),
                                                                       .user("In one sentence, why?")]
        let reason = try await llm.respond(to: reasonConversation, options: options).text
        ratings.append(Rating(listing: listing, rugPullProbability: probability,
                              reason: reason.trimmingCharacters(in: .whitespacesAndNewlines)))
    }
    print("| Token | Address | Verdict | P(rug-pull) | Reason |")
    print("|---|---|---|---:|---|")
    for r in ratings {
        let address = r.listing.address.prefix(10) + "…"
        let reason = r.reason.replacingOccurrences(of: "|", with: "\\|")
        print("| \(r.listing.name) (\(r.listing.symbol)) | \(address) | \(r.verdict) | \(String(format: "%.2f", r.rugPullProbability)) | \(reason) |")
    }
} catch {
    fail("\(error)")
}
