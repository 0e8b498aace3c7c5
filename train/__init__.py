"""Training entry point for drafters and heads (accelerate launch)."""
