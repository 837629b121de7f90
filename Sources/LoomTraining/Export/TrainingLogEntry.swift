import Foundation
import LoomJinja

/// One line of the JSONL training log: the state after an optimiser step (and, every N steps,
/// the evaluation loss).
///
/// Keys: `step`, `loss`, `lr`, `grad_norm`, `tokens_per_s`, and when known `epoch`,
/// `eval_loss`, and in f16 `loss_scale` and `skipped` (true on a step whose update the
/// loss scaler skipped). A non-finite number (a NaN loss that stopped the run) is written as `null`,
/// since JSON has no NaN, and read back as NaN.
public struct TrainingLogEntry: Sendable, Equatable {
    /// 1-based optimiser step.
    public var step: Int
    public var loss: Double
    /// The learning rate used for this step.
    public var learningRate: Double
    /// The gradient norm before clipping.
    public var gradNorm: Double?
    public var tokensPerSecond: Double
    public var epoch: Double?
    public var evalLoss: Double?
    /// f16: the dynamic loss scale of the step.
    public var lossScale: Double?
    /// f16: the update was skipped (inf/NaN gradients).
    public var skipped: Bool

    public init(step: Int, loss: Double, learningRate: Double, gradNorm: Double? = nil, tokensPerSecond: Double,
                epoch: Double? = nil, evalLoss: Double? = nil, lossScale: Double? = nil, skipped: Bool = false) {
        self.step = step
        self.loss = loss
        self.learningRate = learningRate
        self.gradNorm = gradNorm
        self.tokensPerSecond = tokensPerSecond
        self.epoch = epoch
        self.evalLoss = evalLoss
        self.lossScale = lossScale
        self.skipped = skipped
    }

    public static func == (a: TrainingLogEntry, b: TrainingLogEntry) -> Bool {
        func same(_ x: Double?, _ y: Double?) -> Bool {
            switch (x, y) {
            case (nil, nil): return true
            case let (x?, y?): return x == y || (x.isNaN && y.isNaN)
            default: return false
            }
        }
        return a.step == b.step && same(a.loss, b.loss) && same(a.learningRate, b.learningRate) && same(a.gradNorm, b.gradNorm)
            && same(a.tokensPerSecond, b.tokensPerSecond) && same(a.epoch, b.epoch) && same(a.evalLoss, b.evalLoss)
            && same(a.lossScale, b.lossScale) && a.skipped == b.skipped
    }

    /// The entry as one JSON line (no newline).
    public var jsonLine: String {
        func number(_ value: Double) -> JSONValue { value.isFinite ? .number(value) : .null }
        var object: JSONObject = ["step": .integer(step), "loss": number(loss), "lr": number(learningRate)]
        if let gradNorm { object["grad_norm"] = number(gradNorm) }
        object["tokens_per_s"] = number(tokensPerSecond)
        if let epoch { object["epoch"] = number(epoch) }
        if let evalLoss { object["eval_loss"] = number(evalLoss) }
        if let lossScale { object["loss_scale"] = number(lossScale) }
        if skipped { object["skipped"] = .bool(true) }
        return JSONText.serialize(.object(object))
    }

    /// Parses a line written by ``jsonLine``.
    /// - Throws: ``TrainingError/badRecord(path:line:reason:)`` naming the field.
    public init(jsonLine bytes: [UInt8], path: String, line: Int) throws {
        func bad(_ reason: String) -> TrainingError { .badRecord(path: path, line: line, reason: reason) }
        guard case .object(let object)? = try? JSONParser.parse(bytes) else { throw bad("not a JSON object") }
        func number(_ key: String, required: Bool) throws -> Double? {
            switch object[key] {
            case nil: if required { throw bad("missing \"\(key)\"") } else { return nil }
            case .null?: return .nan
            case .integer(let value)?: return Double(value)
            case .number(let value)?: return value
            case let other?: throw bad("\"\(key)\" must be a number, got \(other.kindDescription)")
            }
        }
        guard case .integer(let step)? = object["step"], step >= 0 else { throw bad("\"step\" must be a whole number ≥ 0") }
        var skipped = false
        switch object["skipped"] {
        case nil: break
        case .bool(let value)?: skipped = value
        case let other?: throw bad("\"skipped\" must be true or false, got \(other.kindDescription)")
        }
        self.init(step: step, loss: try number("loss", required: true)!, learningRate: try number("lr", required: true)!,
                  gradNorm: try number("grad_norm", required: false), tokensPerSecond: try number("tokens_per_s", required: true)!,
                  epoch: try number("epoch", required: false), evalLoss: try number("eval_loss", required: false),
                  lossScale: try number("loss_scale", required: false), skipped: skipped)
    }
}
