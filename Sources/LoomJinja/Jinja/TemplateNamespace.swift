/// jinja2 `namespace()`: the one mutable object templates may assign attributes on.
final class TemplateNamespace {
    var attributes: TemplateDictionary
    init(_ attributes: TemplateDictionary) { self.attributes = attributes }
}
