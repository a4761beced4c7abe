"""Xanadu Rewards: everything the Lambda needs besides the composition root (app.py)."""
