/// Bounds on what one render of a chat template may do. Templates come from model files, so a
/// hostile one must end with a ``TemplateError`` in bounded time and memory rather than hang,
/// exhaust memory or overflow the stack. Every limit is checked before the memory it guards
/// is allocated. The defaults sit far above any real chat template (they render in a few
/// hundred steps and kilobytes) and can be lowered, e.g. by a fuzzing harness.
public struct TemplateLimits: Sendable, Equatable {
    /// Largest string a render may build, in UTF-8 bytes: the rendered output, a captured
    /// `{% set %}` / macro body, and every string an operation creates (`*`, `~`, `+`, `join`,
    /// `replace`, `%` / `format`, `center`, `indent`, `tojson`, `string` of a container, …).
    public var maxStringBytes: Int
    /// Total bytes all string- and list-building operations of one render may create (a list
    /// item counts as the `MemoryLayout` stride of a value, 24 to 32 bytes), so a loop cannot
    /// pile up many strings that are each under `maxStringBytes`; it also bounds any one list.
    public var maxAllocatedBytes: Int
    /// Statements executed, loop iterations and items walked by filters and comparisons in one
    /// render; keeps nested loops and exponential macro recursion finite.
    public var maxSteps: Int
    /// Deepest nesting of lists, tuples, dicts and namespaces a template may build and store
    /// (`{% set ns.x = [ns.x] %}` in a loop). Bounds the recursion of `tojson`, comparison and
    /// deallocation. Input values are parsed with a cap of 256 levels, so this is well above.
    public var maxValueDepth: Int
    /// Largest `range()`; jinja2's sandbox has the same `MAX_RANGE` of 100 000.
    public var maxRange: Int

    /// Limits with the given values; the defaults are ``standard``'s.
    public init(maxStringBytes: Int = 64 << 20, maxAllocatedBytes: Int = 256 << 20, maxSteps: Int = 5_000_000,
                maxValueDepth: Int = 512, maxRange: Int = 100_000) {
        self.maxStringBytes = maxStringBytes
        self.maxAllocatedBytes = maxAllocatedBytes
        self.maxSteps = maxSteps
        self.maxValueDepth = maxValueDepth
        self.maxRange = maxRange
    }

    /// 64 MiB per string, 256 MiB allocated in total, 5 M steps, 512 nesting levels, range 100 000.
    public static let standard = TemplateLimits()
}
