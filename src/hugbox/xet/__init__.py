"""Xet storage: a content-addressed chunk store (CAS) that stock hf_xet clients talk to."""
