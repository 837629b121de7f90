// LoomFormats module.
