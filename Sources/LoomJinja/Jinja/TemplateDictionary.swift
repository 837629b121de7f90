/// An insertion-ordered string-keyed dictionary (Python `dict` order semantics).
struct TemplateDictionary {
    private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    init() {}

    init(_ pairs: [(String, TemplateValue)]) {
        keys.reserveCapacity(pairs.count)
        storage.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    var count: Int { keys.count }

    subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    var values: [TemplateValue] { keys.map { storage[$0]! } }
    var pairs: [(String, TemplateValue)] { keys.map { ($0, storage[$0]!) } }
}
