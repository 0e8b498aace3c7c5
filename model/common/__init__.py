"""The shared inference loop and what it needs: model zoo, target wrapper, trees, accept rules."""
