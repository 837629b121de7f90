/// An evaluation failure without a position; the interpreter attaches the position of the
/// innermost expression or statement being evaluated and rethrows it as `TemplateError`.
struct RuntimeFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
