"""Running an exported model: the runtimes, which one runs here and why, the CPU's capabilities, timing."""
