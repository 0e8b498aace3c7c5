"""Run methods over question files, speed metrics, lossless checks, reports and plots."""
