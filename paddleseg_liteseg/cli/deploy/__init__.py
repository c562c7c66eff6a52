"""Subcommands that export, tune, run, serve and benchmark a model."""
