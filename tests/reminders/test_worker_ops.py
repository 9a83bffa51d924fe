"""`lmsbot scheduler --metrics-port P` as the Procfile runs it: /metrics after its sweep, /healthz and /readyz on
the same port, and LOG_FORMAT=json lines naming the job, the workspace and the learner."""

from __future__ import annotations

import json
import signal

import httpx

from tests.reminders.test_processes import MakeStage, make_stage  # noqa: F401 - the fixture, shared
from tests.support.metrics import Scrape
from tests.support.processes import free_port


async def test_worker_serves_metrics_health_and_readiness_and_logs_json(make_stage: MakeStage) -> None:
    stage = await make_stage()
    port = free_port()
    timing = {"REMINDER_SWEEP_MINUTES": "60", "REMINDER_SHUTDOWN_GRACE_SECONDS": "2", "LOG_FORMAT": "json"}
    # The scheduler's first sweep runs at once; whatever it sends (by each learner's real local time) is what the
    # counters must show.
    worker = stage.start("-v", "scheduler", "--metrics-port", str(port), **timing)
    await worker.wait_line(rf"^scheduler: metrics, /healthz and /readyz on http://0\.0\.0\.0:{port}$")
    await worker.wait_line(r"^scheduler: active")
    sweep = await worker.wait_line(r"^sweep: ")
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as client:
        scraped, health, ready = await client.get("/metrics"), await client.get("/healthz"), await client.get("/readyz")
    assert health.status_code == 200 and health.json() == {"ok": True, "status": "ok", "role": "active"}
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = Scrape.parse(scraped.text)
    posts = sum(stage.posts().values())
    assert f"sent {posts}," in sweep  # the sweep's own summary line
    assert metrics.value("lmsbot_sweep_duration_seconds_count") == 1
    assert metrics.total("lmsbot_digests_sent_total") == posts
    assert metrics.value("lmsbot_slack_api_calls_total", method="chat.postMessage", outcome="ok") == posts
    progress = stage.sandbox.state.calls_for("module-progress")
    labels = {"provider": "zoho", "endpoint": "module-progress"}
    assert metrics.total("lmsbot_lms_requests_total", **labels) == len(progress)
    for outcome, status in (("ok", 200), ("client_error", 404)):  # 404: modules a learner is not enrolled in
        sent = sum(1 for c in progress if c.status == status)
        assert metrics.value("lmsbot_lms_requests_total", outcome=outcome, **labels) == sent

    worker.kill(signal.SIGTERM)
    assert await worker.finish() == 0
    logs = [json.loads(line) for line in worker.output if line.startswith("{")]
    assert logs and all({"time", "level", "logger", "message", "context"} <= set(line) for line in logs)
    swept = [line for line in logs if line["logger"] == "bot.lms.transport"]
    assert swept and all(line["context"]["job_id"].startswith("reminders-sweep:") for line in swept)
    assert {line["context"]["workspace"] for line in swept} == {"T0DEMO"}
    assert any(line["context"].get("slack_user", "").startswith("U0") for line in swept)
    assert any(line["logger"].startswith("uvicorn") for line in logs)  # the ops server's own lines, as JSON
