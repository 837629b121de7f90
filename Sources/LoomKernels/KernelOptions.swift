/// Choices a matrix product makes that do not change what it computes, only how: which
/// kernels are allowed and how far ahead weights are prefetched. A value passed in by the
/// caller (the decoder, `loom bench`'s hidden flags, tests comparing kernels), never a
/// global switch, so two sessions in one process can run with different choices.
///
/// The defaults are the measured best on the x86-64 hosts this project is benchmarked on;
/// BENCHMARKS.md has the runs behind each number.
public struct KernelOptions: Sendable, Equatable {
    /// Single-token products quantise the activations to integer codes and use the integer
    /// kernels (``IntegerRowKernels``) where the weight type has one; off gives the float
    /// path everywhere (it gates ``integerPrompt`` and ``integerBatch`` too).
    public var integerActivations = true
    /// Prompts (16+ tokens) use ``IntegerPromptKernel`` for the formats it prefers
    /// (bit-identical to feeding the tokens one at a time).
    public var integerPrompt = true
    /// Batched products give every row the arithmetic its kind of row gets alone
    /// (``BatchRows``): decode rows that of a one-token product, prompt rows that of the
    /// prompt kernels, whatever the batch size and whichever rows share the step. Off, decode
    /// batches of 2–15 rows take the faster small-batch kernels (``integerBatch``,
    /// ``laneBatch``) and small prompt batches the dot form, whose rounding depends on the
    /// batch (`loom serve --no-batch-invariant`; the cost is in BENCHMARKS.md).
    public var batchInvariant = true
    /// Without ``batchInvariant``: decode batches of 2–15 independent rows use ``IntegerBatchKernels``.
    public var integerBatch = true
    /// Without ``batchInvariant``: decode batches of up to 8 rows use ``IntegerLaneBatchKernel``
    /// (with ``integerBatch``).
    public var laneBatch = true
    /// Bytes ahead of the row being read that single-token decode loops prefetch; 0 is off.
    /// 4 KB measured clearly faster than none in SmolLM2 decode (BENCHMARKS.md, "Kernel
    /// design measurements").
    public var decodePrefetchDistance = 4096
    /// The decode prefetch distance for runs of a megabyte or more (the LM head's), where the
    /// lead is not lost at the start of every short run; a DRAM-streaming micro-benchmark
    /// peaked at 8 KB.
    public var longRunPrefetchDistance = 8192
    /// Bytes ahead that lane-kernel steps (``IntegerLaneBatchKernel``) prefetch; 0 is off.
    public var lanePrefetchDistance = 6144
    /// Runs of rows per participant a decode dispatch aims for (the last ones taper).
    public var decodeChunksPerThread = 4

    public init() {}

    /// The measured defaults.
    public static let `default` = KernelOptions()

    /// The defaults without ``batchInvariant``: decode batches take the small-batch kernels.
    public static var smallBatchKernels: KernelOptions {
        var options = KernelOptions()
        options.batchInvariant = false
        return options
    }
}
