"""Starting lmsbot as a separate process, as the Procfile or an operator would, and waiting until it serves."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(proc: subprocess.Popen[str], url: str, timeout: float = 90.0) -> None:
    """Poll `url` until it answers 200; fail with the process's output if it dies or never answers.

    The bound is generous: on a loaded 2-core machine an `lmsbot` start-up (its imports) has taken over 30 s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            output = proc.stdout.read() if proc.stdout and proc.poll() is not None else ""
            raise RuntimeError(f"{proc.args!r} did not start serving {url}: {output}")
        time.sleep(0.1)
