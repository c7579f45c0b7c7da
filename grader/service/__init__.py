"""The grading service: a push to a student's repository graded by workers into a live gradebook
in PostgreSQL, with the result back on the commit. github (signed deliveries) -> assignments
(which assignment and student) -> store and queue (the push and its job, one transaction) ->
worker (grades as `grader batch` does) -> status (the commit); web and views (the pages).
"""
