// LoomGeneration module.
