"""Safe Space service: everything that touches the Bot Framework SDK lives in this package."""

__version__ = "0.1.0"
