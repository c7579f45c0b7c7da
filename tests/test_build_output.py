"""What a build made, read from its output as it streams (grader.engine.stack._StepLines): a build
prints what it likes, so only the lines that name a layer or a step's container are kept."""

from __future__ import annotations

import threading

from grader.engine.stack import _StepLines


def test_an_interrupted_build_s_layers_are_read_from_its_output_as_it_streams() -> None:
    steps = _StepLines()
    for chunk in (
        b"Step 2/4 : WORKDIR /app\n ---> Running in 0123456789ab\n ---> 4f5e6d7c",
        b"8b9a\nStep 3/4 : RUN x\n",
    ):
        steps.output(chunk)
    steps.output(b"noise " * 100_000 + b"\n")  # what a build prints is never kept
    assert steps.text().split("\n")[:2] == [" ---> 4f5e6d7c8b9a", "---> Running in 0123456789ab"]
    assert len(steps.text()) < 300


def test_fakes_are_kept_once_and_never_crowd_out_the_real_layers() -> None:
    steps = _StepLines()
    fake = b"".join(b" ---> Running in %012x\n" % (n % 1000) for n in range(200_000))  # 1,000 distinct
    writers = [threading.Thread(target=steps.output, args=(fake,)) for _ in range(2)]  # both streams
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    steps.output(b" ---> 4f5e6d7c8b9a\n")
    lines = steps.text().split("\n")
    assert " ---> 4f5e6d7c8b9a" in lines and len(lines) == 1 + 1000 + 1
