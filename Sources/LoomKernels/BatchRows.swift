/// What the activation rows of a ``MatMul`` product are, which decides the arithmetic each
/// row gets when ``KernelOptions/batchInvariant`` is set.
///
/// A batch of rows can be computed by many kernels (one token at a time, tokens in lanes,
/// dot products of a dequantised tile, integer small-batch kernels), and they round
/// differently. If the kernel is chosen by the batch size, a row's result depends on which
/// other rows share its step: a server answers differently under load, speculative
/// verification differs from plain decoding, and a prompt chunked differently scores
/// differently. Batch-invariant products fix the arithmetic by the kind of row instead, as
/// vLLM's and SGLang's batch-invariant modes do (Thinking Machines, "Defeating
/// Nondeterminism in LLM Inference", 2025).
public enum BatchRows: Sendable, Equatable {
    /// No promise: the fastest kernel for the batch size (training, encoders, tests of
    /// individual kernels).
    case any
    /// Independent single-token decode steps (a server step, draft tokens under verification,
    /// LM-head rows of generated tokens): every row gets exactly the arithmetic of a
    /// one-token product, whatever the batch size.
    case decode
    /// Prompt rows: every row gets exactly the arithmetic of the prompt kernels (float or
    /// integer activations in lanes, ``BatchMicroKernel``, ``IntegerPromptKernel``,
    /// ``TernaryPromptKernel``), whatever the batch size, one row included.
    case prompt
}
