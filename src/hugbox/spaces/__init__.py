"""Spaces: Gradio, Streamlit and static apps built from space repos, sandboxed and proxied."""
