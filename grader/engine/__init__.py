"""The submission's stack on the Docker engine: finding the engine and compose, the compose
adapter, the stack's life (override, limits, isolated networks, firewall), watching and probing
it (waiting, diagnose, probe, SQL, the persistence cycle, HTTP scenarios), and removing
everything a run created (cleanup, reaper).
"""
