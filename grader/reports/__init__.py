"""The report: its model as JSON (the source of truth) and schema, the formats other tools read,
where reports are written, and what they must never show.
"""
