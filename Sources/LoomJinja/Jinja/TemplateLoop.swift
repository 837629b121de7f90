/// jinja2's `loop` object for one `for` statement.
final class TemplateLoop {
    let items: [TemplateValue]
    var index0 = 0
    init(items: [TemplateValue]) { self.items = items }

    func attribute(_ name: String) -> TemplateValue? {
        let n = items.count
        switch name {
        case "index0": return .int(index0)
        case "index": return .int(index0 + 1)
        case "revindex": return .int(n - index0)
        case "revindex0": return .int(n - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == n - 1)
        case "length": return .int(n)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return index0 > 0 ? items[index0 - 1] : .undefined(hint: "there is no previous item")
        case "nextitem": return index0 + 1 < n ? items[index0 + 1] : .undefined(hint: "there is no next item")
        case "cycle", "changed": return .method(.loop(self), name)
        default: return nil
        }
    }
}
