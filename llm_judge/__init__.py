"""LLM-as-a-judge over answer files."""
