"""EmPulse backend: the JSON API for listeners, independent artists and admins."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("empulse")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
