"""hugbox: a self-hostable Hugging Face Hub."""

__version__ = "0.1.0"
