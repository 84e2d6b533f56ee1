"""Training: the one fit loop, the solo and grouped steppers, checkpoints.
"""
