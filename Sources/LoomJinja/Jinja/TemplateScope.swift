/// A variable scope: the template root, one loop iteration, or one macro call.
final class TemplateScope {
    var variables: [String: TemplateValue]
    let parent: TemplateScope?

    init(parent: TemplateScope?, variables: [String: TemplateValue] = [:]) {
        self.parent = parent
        self.variables = variables
    }

    func lookup(_ name: String) -> TemplateValue? {
        var scope: TemplateScope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }
}
