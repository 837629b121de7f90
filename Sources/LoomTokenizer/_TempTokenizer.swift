// TEMPORARY until branch `tokenizer` lands. Delete on merge.
import LoomFormats
public final class BPETokenizer: @unchecked Sendable {
    public init(gguf: GGUFFile) throws {}
}
