"""Vanilla speculative decoding with a small draft language model (Leviathan et al. 2023; Chen et al. 2023)."""
