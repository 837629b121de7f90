/// A `{% macro %}` bound to the scope it was defined in.
final class TemplateMacro {
    let name: String
    let parameters: [TemplateStatement.Parameter]
    let body: [TemplateStatement]
    let closure: TemplateScope

    init(name: String, parameters: [TemplateStatement.Parameter], body: [TemplateStatement], closure: TemplateScope) {
        self.name = name
        self.parameters = parameters
        self.body = body
        self.closure = closure
    }
}
