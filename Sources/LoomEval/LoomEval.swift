/// LoomEval measures models: perplexity and KL-divergence, the QA benchmark (answer
/// perplexity and BERTScore), multiple choice and needle-in-a-haystack.
public enum LoomEval {}
