"""The spaces host: the process of a machine that builds and runs apps in sandboxes."""
