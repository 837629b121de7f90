/// A sampling configuration that cannot be used, naming the offending field.
///
/// Thrown by ``SamplingParameters/validated()``, ``SamplingParameters/validate(vocabularySize:)``
/// and ``Sampler/init(parameters:)``; the message is meant to be shown to the user as is
/// (for example in an HTTP 400 response).
public struct SamplingError: Error, Equatable, CustomStringConvertible, Sendable {
    /// Name of the ``SamplingParameters`` property that is wrong, e.g. `"topP"` or `"logitBias"`.
    public let field: String
    /// The rejected value, rendered as text.
    public let value: String
    /// What the field must satisfy, e.g. `"must be in (0, 1]"`.
    public let requirement: String

    /// Creates an error for `field` holding `value`, which violates `requirement`.
    public init(field: String, value: String, requirement: String) {
        self.field = field
        self.value = value
        self.requirement = requirement
    }

    public var description: String {
        "invalid sampling parameter \(field) = \(value): \(requirement)"
    }
}
