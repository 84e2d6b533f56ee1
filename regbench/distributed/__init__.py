"""The seed grid as a work queue in an Optuna storage, and the workers that
take from it.
"""
