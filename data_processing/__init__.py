"""Sources -> Spec-Bench question files and training prompt files."""
