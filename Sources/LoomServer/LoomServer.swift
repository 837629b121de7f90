/// LoomServer serves a model over an OpenAI-compatible HTTP API (Hummingbird).
public enum LoomServer {}
