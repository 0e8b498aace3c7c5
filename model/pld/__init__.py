"""Prompt lookup decoding: draft the tokens that followed the latest earlier occurrence of the current n-gram."""
