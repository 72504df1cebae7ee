"""Converters from the weight files other projects published."""
