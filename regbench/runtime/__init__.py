"""How this process runs: torch threads and the allocator's memory settings.
"""
