"""An example service run as its one command (``python3 -m examples.X --local``), then
stopped with Ctrl-C: it must stop its local clouds with it and leave no traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import pytest

from examples.object_service.cli import INTERRUPTED
from failover.testing.servers import free_port
from tests.integration.servers import REPO

START_TIMEOUT = 60.0


def served_until_ctrl_c(
    module: str, workdir: Path, use: Callable[[httpx.Client], None], env: Mapping[str, str] | None = None
) -> str:
    """Run ``module --local`` in ``workdir`` until ``/healthz`` answers 200, hand a client
    to ``use``, then interrupt it; its log, once every check of a clean stop passed."""
    port = free_port()
    environment = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    log = workdir / "service.log"
    with log.open("w") as out:
        command = [sys.executable, "-m", module, "--local", "--port", str(port)]
        process = subprocess.Popen(command, cwd=workdir, env=environment, stdout=out, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            _wait_until_up(process, client, log)
            use(client)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == INTERRUPTED, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = log.read_text()
    assert "Traceback" not in text, text
    cloud_ports = re.findall(r"local cloud \S+ on http://127\.0\.0\.1:(\d+)", text)
    assert len(cloud_ports) == 3, text
    for cloud_port in cloud_ports:  # every local cloud stopped with the service
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", int(cloud_port)), timeout=1).close()
    return text


def _wait_until_up(process: subprocess.Popen[bytes], client: httpx.Client, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"the service did not answer within {START_TIMEOUT:g}s\n{log.read_text()}"
        time.sleep(0.1)


__all__ = ["served_until_ctrl_c"]
