"""docker-compose.yaml runs one image built from the repository (Docker does not run here).

Every service that runs Airflow or Spectra must use the image the Dockerfile builds from the
pinned requirements: a worker on the bare Airflow image has no spectra, GX or statsmodels, and
its tasks fail at import. Where Docker is installed, ``docker compose config`` validates the file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# The services of the stack that are not ours: they run their own upstream images.
UPSTREAM = {
    "postgres": "postgres:",
    "redis": "redis:",
    "statsd-exporter": "prom/statsd-exporter:",
    "prometheus": "prom/prometheus:",
    "grafana": "grafana/grafana:",
}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _commands(service: dict[str, Any]) -> str:
    parts = []
    for key in ("entrypoint", "command"):
        value = service.get(key) or []
        parts.append(" ".join(value) if isinstance(value, list) else str(value))
    return " ".join(parts)


def test_every_airflow_service_runs_the_image_built_from_the_repository() -> None:
    services = _compose()["services"]
    ours = {name: s for name, s in services.items() if name not in UPSTREAM}
    assert {n for n in ours if n.startswith("airflow-")} >= {
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
    }
    images = {name: s.get("image") for name, s in ours.items()}
    assert len(set(images.values())) == 1, images
    for name, service in ours.items():
        build = service.get("build")
        assert isinstance(build, dict), f"{name} is not built from the repository"
        assert build.get("context") == "." and build.get("dockerfile") == "Dockerfile", name
        # nothing installs at start-up: the image already holds the pinned environment
        assert "pip install" not in _commands(service), name
    for name, prefix in UPSTREAM.items():
        assert services[name]["image"].startswith(prefix)


def test_the_dockerfile_installs_the_pinned_requirements_on_the_pinned_airflow() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM apache/airflow:(\S+)-python(\S+)$", dockerfile, re.M)
    assert base, "the image must build on Airflow's own image"
    airflow, python = base.groups()
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == airflow
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f">={python}" in requires.replace(" ", "")
    runs = " ".join(re.findall(r"^RUN (.+)$", dockerfile, re.M))
    assert "pip install --no-cache-dir -r /opt/spectra/requirements.txt" in runs
    assert "pip install --no-cache-dir --no-deps -e /opt/spectra" in runs
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "var", ".airflow"} <= set(ignored)  # no local state in the image


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    has_compose = docker is not None and (
        subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if not has_compose:
        pytest.skip("Docker Compose is not installed here; the structure is checked above")
    done = subprocess.run(
        [docker, "compose", "config", "--quiet"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_prometheus_scrapes_spectra_and_airflow_and_grafana_gets_the_dashboard() -> None:
    """The metrics path end to end in configuration: Airflow sends StatsD to the exporter,
    Prometheus scrapes it and ``spectra metrics serve``, Grafana is provisioned with a
    Prometheus data source and the dashboard, whose panels query every Spectra series."""
    import json

    from spectra.observability.metrics import SERIES

    services = _compose()["services"]
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__METRICS__STATSD_ON"] == "true"
    assert env["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    metrics = services["spectra-metrics"]
    assert _commands(metrics).split()[-8:-6] == ["metrics", "serve"]
    port = metrics["command"][metrics["command"].index("--port") + 1]
    prom = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        t for job in prom["scrape_configs"] for c in job["static_configs"] for t in c["targets"]
    }
    assert {f"spectra-metrics:{port}", "statsd-exporter:9102"} <= targets
    mounts = " ".join(services["grafana"]["volumes"])
    assert "deploy/grafana/dashboards:/var/lib/grafana/dashboards" in mounts
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/spectra.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )
    uid = source["datasources"][0]["uid"]
    dashboard = json.loads((ROOT / "deploy/grafana/dashboards/spectra.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    assert all(p["datasource"]["uid"] == uid for p in dashboard["panels"])
    missing = [s for s in SERIES if s not in exprs]
    assert not missing, missing


def test_airflow_containers_reach_the_sandbox_and_the_gemini_stand_in() -> None:
    """The connections ``airflow-init`` loads from airflow_settings.yaml (with its own
    environment) point at the ``sandbox`` service, which serves the Google Ads sandbox and the
    Gemini stand-in on every interface at those ports: a worker's ``localhost`` is not the
    sandbox's."""
    from spectra.agent.settings import GeminiSettings
    from spectra.airflow.settings_loader import convert

    services = _compose()["services"]
    env = {k: str(v) for k, v in services["airflow-init"]["environment"].items()}
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())
    with pytest.MonkeyPatch.context() as mp:
        for key in ("SPECTRA_LLM_HOST", "SPECTRA_LLM_PORT", "SPECTRA_SANDBOX_HOST"):
            mp.delenv(key, raising=False)  # the container's environment only
        for key, value in env.items():
            mp.setenv(key, value)
        connections, _, _ = convert(settings)
    gemini = connections["gemini_default"]
    llm = GeminiSettings.from_connection(
        host=gemini.get("host"),
        port=gemini.get("port"),
        password=gemini.get("password"),
        extra=json.loads(gemini["extra"]),
    )
    assert llm.base_url == "http://sandbox:50251" and llm.project  # Vertex mode, args passed
    ads = connections["google_ads_default"]
    assert (ads["host"], ads["port"]) == ("sandbox", 50151)

    sandbox = services["sandbox"]
    command = sandbox["command"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert int(command[command.index("--port") + 1]) == ads["port"]
    # `sandbox serve` starts the stand-in on SPECTRA_LLM_PORT (or --llm-port)
    llm_port = (
        command[command.index("--llm-port") + 1]
        if "--llm-port" in command
        else sandbox["environment"]["SPECTRA_LLM_PORT"]
    )
    assert int(llm_port) == 50251
    for name in ("airflow-worker", "airflow-scheduler", "sandbox"):
        assert "networks" not in services[name]  # one default network: service names resolve
