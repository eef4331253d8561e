# The image of one partnerapp service: the same file for all five, told which by build arguments
# (docker-compose.yml passes each service's). Build from the repository root, e.g.
#   docker build --build-arg SERVICE=gateway --build-arg ENV_PREFIX=GATEWAY --build-arg PORT=8000 \
#     --build-arg PDF_FONTS=true -t partnerapp/gateway .
# SERVICE: the package run as `python -m $SERVICE`; ENV_PREFIX: its settings' prefix; PORT: its
# HTTP port; PDF_FONTS=true for the services that render PDFs.
# Debian 12, like the machines the PDF fonts are tested on (their file names are those of its packages).
FROM python:3.11-slim-bookworm AS build
ARG SERVICE
RUN test -n "$SERVICE" || { echo "--build-arg SERVICE=<gateway|instances|support|reports|activity> is required" >&2; exit 1; }
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY contracts contracts
COPY libs libs
COPY services services
# The workspace's last member (the local stack), so uv sees the workspace whole; no image installs it.
COPY deploy/local/pyproject.toml deploy/local/pyproject.toml
# Only this service and what it depends on (contracts, servicekit), installed non-editable.
RUN uv sync --frozen --no-dev --no-editable --package "partnerapp-$SERVICE"

FROM python:3.11-slim-bookworm
ARG SERVICE
ARG ENV_PREFIX
ARG PORT
ARG PDF_FONTS=false
RUN test -n "$ENV_PREFIX" && test -n "$PORT" || { echo "--build-arg ENV_PREFIX and PORT are required" >&2; exit 1; }
# The fonts of the PDFs (servicekit.pdf), from Debian: the list tools/bootstrap.sh installs too.
COPY tools/pdf-font-packages.txt /usr/local/share/partnerapp/pdf-font-packages.txt
RUN if [ "$PDF_FONTS" = true ]; then \
    apt-get update \
    && xargs -a /usr/local/share/partnerapp/pdf-font-packages.txt apt-get install -y --no-install-recommends \
    && rm -rf /var/lib/apt/lists/*; \
  fi
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 SERVICE=${SERVICE} SERVICE_PORT=${PORT} \
  ${ENV_PREFIX}_HTTP_HOST=0.0.0.0 ${ENV_PREFIX}_HTTP_PORT=${PORT}
USER 10001
EXPOSE ${PORT}
HEALTHCHECK --interval=10s --timeout=3s --retries=12 \
  CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['SERVICE_PORT']}/readyz\", timeout=2).status != 200)"]
# exec: the service is PID 1 and receives the stop signal itself.
CMD exec python -m "$SERVICE"
