"""revops: one set of numbers for Sales and Marketing."""

__version__ = "0.1.0"
