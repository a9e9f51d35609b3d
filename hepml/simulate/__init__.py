"""Synthetic samples for the three tasks: the embedded default data of the demo workflow."""
