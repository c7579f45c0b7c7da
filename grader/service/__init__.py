"""The grading service's pieces, built toward issue 23 (a push graded by workers into a live
gradebook): which assignment and student a push belongs to, and GitHub's signed push deliveries.
"""
