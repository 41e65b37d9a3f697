"""snoopwatch: find unauthorised searches of personal-data systems in audit logs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("snoopwatch")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
