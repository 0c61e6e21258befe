"""fer-audit: audit video facial-expression-recognition models for gender bias."""

from fer_audit.version import __version__

__all__ = ["__version__"]
