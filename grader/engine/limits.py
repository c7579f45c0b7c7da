"""What one service of a submission may use on the grading machine, whatever its compose file says."""

from __future__ import annotations

from dataclasses import dataclass

from grader.intake.policy import MAX_SERVICES


@dataclass(frozen=True)
class Limits:
    """What one service of a submission may use, whatever its compose file says. Generous for a
    Node/NestJS API and PostgreSQL (about 100-500 MB each); a fork bomb, a memory hog or a log
    flood hits these walls instead of the grading machine."""

    memory: str = "1g"  # per service; swap is not extra (memswap = memory)
    cpus: float = 1.0  # per service
    pids: int = 512  # processes and threads per service: Node uses ~15, PostgreSQL ~10
    services: int = MAX_SERVICES  # the homework has 2-3; the security gate refuses more than this
    log_size: str = "1m"  # per log file, two files per service (json-file, which `logs` reads)
    stop_grace_app: int = 1  # seconds after SIGTERM before SIGKILL; node as PID 1 ignores SIGTERM
    stop_grace_db: int = 20  # PostgreSQL shuts down cleanly in about a second
    # The whole run's disk: its containers' writable layers, its volumes and the copy (bind mounts).
    # The storage driver here (overlay2 on ext4) cannot cap a layer, so grader.engine.stack.DiskWatch
    # stops the run's containers once they wrote more. A NestJS app and PostgreSQL write ~100 MB.
    disk: str = "2g"

    @property
    def memory_bytes(self) -> int:
        """`memory` in bytes, read the way compose reads it (b, k, m, g; 1024-based)."""
        return size_bytes(self.memory)

    @property
    def disk_bytes(self) -> int:
        return size_bytes(self.disk)


def size_bytes(text: str) -> int:
    """`1g`, `512m`, `100k`, `4096` in bytes (1024-based, as compose reads sizes)."""
    text = text.lower().rstrip("b")
    scale = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:], 1)
    return int(float(text.rstrip("kmg")) * scale)
