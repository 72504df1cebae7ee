class DataError(RuntimeError):
    """Input data that cannot be used: unreadable, faceless or missing."""
