"""Subcommands around a model: configs, train, val, predict, the weights list and their conversion."""
