"""Batch jobs over many images, beyond one machine: ``paddleseg infer --ray`` on Ray Data."""
