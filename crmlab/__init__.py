"""crmlab: the command line that ties training, serving and monitoring together."""

__version__ = "0.1.0"
