// LoomModels module.
