"""A class: who is in it (roster), their work fetched at a deadline, graded in child processes
(batch, supervise, board, fingerprints for --resume, shards), the gradebook, and the survey of
grading values a class needs.
"""
