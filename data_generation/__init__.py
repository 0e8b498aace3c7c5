"""Self-distillation from the target and hidden-state dumps for head training."""
