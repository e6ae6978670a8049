"""The Inference API: run hosted models behind the HF inference contract."""
