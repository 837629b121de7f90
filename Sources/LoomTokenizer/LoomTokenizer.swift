// LoomTokenizer module.
