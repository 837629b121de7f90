import Foundation

extension FineTuneConfig {
    /// Which decoder layers get LoRA adapters (`--layers`): HEFT-style selective layers.
    ///
    /// The spec is a comma-separated list of items, each `all`, `even`, `odd`, a layer index
    /// `N` or an inclusive range `A-B` (0-based, as PEFT's `layers_to_transform`), e.g.
    /// `0-11`, `even`, `1,3,5`, `0-3,20-23`. Parsing checks the syntax; ``resolve(layerCount:)``
    /// checks the indices against a model.
    public struct LayerSelection: Sendable, Equatable, CustomStringConvertible {
        /// One item of the list.
        public enum Item: Sendable, Equatable {
            case all, even, odd
            case range(ClosedRange<Int>)
        }

        /// The parsed items, in the order given.
        public let items: [Item]
        /// The text it was parsed from (for messages and the export).
        public let spec: String

        /// Every layer.
        public static let all = LayerSelection(items: [.all], spec: "all")

        private init(items: [Item], spec: String) {
            self.items = items
            self.spec = spec
        }

        /// Parses `spec`.
        /// - Throws: ``TrainingError/invalidLayerSelection(spec:reason:)`` naming the bad item.
        public init(parsing spec: String) throws {
            let trimmed = spec.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else {
                throw TrainingError.invalidLayerSelection(spec: spec, reason: "it is empty (use all, even, odd, N, A-B or a comma-separated list)")
            }
            var items: [Item] = []
            for raw in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
                let item = raw.trimmingCharacters(in: .whitespaces).lowercased()
                switch item {
                case "": throw TrainingError.invalidLayerSelection(spec: spec, reason: "an empty item between commas")
                case "all": items.append(.all)
                case "even": items.append(.even)
                case "odd": items.append(.odd)
                default:
                    let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
                    guard bounds.count <= 2, let low = Int(bounds[0]),
                          let high = bounds.count == 2 ? Int(bounds[1]) : low else {
                        throw TrainingError.invalidLayerSelection(
                            spec: spec, reason: "\"\(item)\" is not all, even, odd, a layer index or a range A-B")
                    }
                    guard low <= high else {
                        throw TrainingError.invalidLayerSelection(spec: spec, reason: "range \(item) runs backwards")
                    }
                    items.append(.range(low...high))
                }
            }
            self.init(items: items, spec: trimmed)
        }

        /// The selected layer indices of a model with `layerCount` layers, ascending, each once.
        /// - Throws: ``TrainingError/invalidLayerSelection(spec:reason:)`` when an index or range
        ///   reaches past the last layer, or the selection is empty (`odd` of a 1-layer model).
        public func resolve(layerCount: Int) throws -> [Int] {
            guard layerCount > 0 else {
                throw TrainingError.invalidLayerSelection(spec: spec, reason: "the model has no layers")
            }
            var selected = Set<Int>()
            for item in items {
                switch item {
                case .all: selected.formUnion(0..<layerCount)
                case .even: selected.formUnion(stride(from: 0, to: layerCount, by: 2))
                case .odd: selected.formUnion(stride(from: 1, to: layerCount, by: 2))
                case .range(let range):
                    guard range.upperBound < layerCount else {
                        let what = range.count == 1 ? "layer \(range.lowerBound)" : "range \(range.lowerBound)-\(range.upperBound)"
                        throw TrainingError.invalidLayerSelection(
                            spec: spec, reason: "\(what) is past the last layer (the model has \(layerCount) layers, 0-\(layerCount - 1))")
                    }
                    selected.formUnion(range)
                }
            }
            guard !selected.isEmpty else {
                throw TrainingError.invalidLayerSelection(spec: spec, reason: "selects no layer of a \(layerCount)-layer model")
            }
            return selected.sorted()
        }

        public var description: String { spec }
    }
}
