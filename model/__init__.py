"""Speculative-decoding methods, one package each, all running on the loop in ``model.common``."""
