"""Subcommands that make or check datasets."""
