"""What comes in and what it says, read without trusting it: the submission (copied, located), its
compose files (screened, resolved by compose), its Dockerfile, the rubric and its grading
values, and the security gate over the model.
"""
