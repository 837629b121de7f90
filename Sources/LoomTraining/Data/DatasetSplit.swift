import LoomGeneration

/// Holds out part of a dataset for evaluation (`--val-split`), the same part for the same seed.
///
/// Examples are shuffled with a seeded Fisher–Yates shuffle (SplitMix64 generator, Steele et
/// al. 2014) and the first `count` become the validation set; both sets keep file order. A
/// fraction is rounded up like HF `datasets`' `train_test_split(test_size=…)`, which
/// LLaMA-Factory's `val_size` uses — the same sizes, though not the same examples, as its
/// numpy-seeded permutation.
public enum DatasetSplit {
    /// The size of the held-out set: a fraction of the examples or a count.
    public enum Size: Sendable, Equatable {
        case fraction(Double)
        case count(Int)

        /// Parses `--val-split`: a number below 1 is a fraction, a whole number ≥ 1 a count
        /// (LLaMA-Factory's `val_size` convention).
        /// - Throws: ``TrainingError/invalidParameter(_:)``.
        public init(parsing text: String) throws {
            if let count = Int(text), count >= 1 {
                self = .count(count)
            } else if let fraction = Double(text), fraction.isFinite, fraction > 0, fraction < 1 {
                self = .fraction(fraction)
            } else {
                throw TrainingError.invalidParameter("--val-split must be a fraction in (0, 1) or a whole number of examples ≥ 1, got \(text)")
            }
        }
    }

    /// Splits `examples` into training and validation sets.
    /// - Throws: ``TrainingError/invalidParameter(_:)`` when either set would be empty.
    public static func split<Element>(_ examples: [Element], size: Size, seed: UInt64) throws -> (train: [Element], validation: [Element]) {
        let count: Int
        switch size {
        case .count(let n): count = n
        case .fraction(let fraction):
            guard fraction.isFinite, fraction > 0, fraction < 1 else {
                throw TrainingError.invalidParameter("--val-split fraction must be in (0, 1), got \(fraction)")
            }
            count = Int((fraction * Double(examples.count)).rounded(.up))
        }
        guard count >= 1, count < examples.count else {
            throw TrainingError.invalidParameter(
                "--val-split: holding out \(count) of \(examples.count) examples leaves \(count < 1 ? "no validation" : "no training") example")
        }
        var order = Array(examples.indices)
        var generator = SplitMix64(seed: seed)
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        let held = Set(order.prefix(count))
        var train: [Element] = [], validation: [Element] = []
        for (index, example) in examples.enumerated() {
            if held.contains(index) { validation.append(example) } else { train.append(example) }
        }
        return (train, validation)
    }
}
