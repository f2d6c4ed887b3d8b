# syntax=docker/dockerfile:1
# Cellule's one image: the web processes (the default command), `cellule worker`,
# `cellule jobs scheduler` and the migrations (`cellule db upgrade`) all run from it.
#
#   docker build -t cellule:0.1.0 .
#
# It runs as uid 10001 with a read-only root filesystem: the only place it writes is /tmp
# (mount a volume there; the Helm chart mounts an emptyDir).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv && pip install --upgrade pip
WORKDIR /app
COPY pyproject.toml README.md babel.cfg ./
COPY core core
COPY plugins plugins
COPY migrations migrations
# The project stays in /app (migrations are read from there) and is installed in place, so
# the `cellule` command and the plugins' entry points are registered in the venv.
# Every catalogue is compiled, or the build fails (a catalogue pybabel skips counts too).
RUN pip install -e . \
 && find core plugins -path '*/LC_MESSAGES/*.po' -exec sh -c \
      'for po; do pybabel compile -i "$po" -o "${po%.po}.mo" || exit 1; done' sh {} + \
 && test "$(find core plugins -path '*/LC_MESSAGES/*.mo' | wc -l)" \
      = "$(find core plugins -path '*/LC_MESSAGES/*.po' | wc -l)" \
 && python -m compileall -q /app /opt/venv

FROM ${PYTHON_IMAGE}
# Pango and a font for WeasyPrint's PDF exports of the case file.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cellule \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cellule
# Owned by root: the process can read its code, never change it.
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    CELLULE_INSTANCE_PATH=/tmp/instance \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics \
    CELLULE_LOG_FORMAT=json \
    CELLULE_BIND=0.0.0.0:8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000
CMD ["gunicorn", "--config", "python:core.gunicorn_conf"]
