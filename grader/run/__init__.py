"""One grading run: the runner (top to bottom), what it prepares, how it runs the checks, what a
check reads (the contexts, the stash), and what it says while it runs (events, progress,
timings).
"""
