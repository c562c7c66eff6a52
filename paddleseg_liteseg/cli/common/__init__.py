"""What every subcommand shares: ``--config``/``--opts`` as PaddleSeg's tools take them, and library errors in flag terms."""
