# The one image every Airflow service of docker-compose.yaml runs (scheduler, dag-processor,
# triggerer, Celery worker, API server, init) and the sandbox: Airflow's own image with Spectra's
# pinned requirements and the package, so a task finds spectra, GX and statsmodels on any worker.
# tests/unit/test_compose.py checks the compose file uses it and that the versions below match
# requirements.txt and pyproject.toml.
FROM apache/airflow:3.3.2-python3.11

# The base image brings the Celery provider (CeleryExecutor) under Airflow's own constraints;
# requirements.txt pins everything Spectra needs on top (uv pip compile, see its header).
COPY --chown=airflow:0 requirements.txt /opt/spectra/requirements.txt
RUN pip install --no-cache-dir -r /opt/spectra/requirements.txt

# Editable, so the repository docker-compose.yaml mounts at /opt/spectra (DAGs, plugins, var/
# shared between the services) is the code that runs.
COPY --chown=airflow:0 . /opt/spectra
RUN pip install --no-cache-dir --no-deps -e /opt/spectra

ENV SPECTRA_HOME=/opt/spectra
