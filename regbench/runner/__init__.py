"""One results folder's run: its context and the frozen values it hands out, the
plan, λ by protocol, the executor, the flow of a comparison, config.json and the
checks that need no data.
"""
