"""Files the package writes: each one there whole or not at all (``atomic``)."""
