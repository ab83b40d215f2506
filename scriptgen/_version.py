"""The package version: one home, read by pyproject.toml, the CLI's --version and every record a run writes."""

__version__ = "0.1.0"
