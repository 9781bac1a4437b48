# syntax=docker/dockerfile:1
# The notifier as a container: `notifier run` by default; `poller` or `worker` as the command select one role.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# The CA bundle the build's pip trusts: the base image's own (a build may mount another over it).
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY notifier ./notifier
COPY workers ./workers
# A venv without pip: the base image's pip installs into it, so no installer ends up in the image.
RUN python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install ".[embedded]"

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/data \
    NOTIFIER_DATA_DIR=/data \
    NOTIFIER_HTTP_HOST=0.0.0.0
COPY --from=build /opt/venv /opt/venv
RUN mkdir -p /data && chown 10001:10001 /data
WORKDIR /data
USER 10001:10001
VOLUME ["/data"]
# 8080: /healthz, /readyz, /metrics; 8081: the API and console (served only with NOTIFIER_API_TOKEN set, as the
# image listens beyond loopback).
EXPOSE 8080 8081
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 CMD ["notifier", "health"]
ENTRYPOINT ["notifier"]
CMD ["run"]
