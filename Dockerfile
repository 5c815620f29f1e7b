# Back Care Guide in a container: the regular `pip install .` of this source tree (no dev
# dependencies), run as an unprivileged user, with its SQLite database on the /data volume.
# tests/test_wheel.py checks the same install (a wheel in a fresh venv, run from elsewhere).
#
#   docker build -t back-care-guide .
#   docker run -d --name back-care-guide --restart unless-stopped --env-file .env \
#       -v back-care-data:/data -p 127.0.0.1:8443:8443 back-care-guide
#
# Configuration comes from the environment (.env.example lists every variable). Webhook mode
# (WEBHOOK_URL and WEBHOOK_SECRET set) serves Telegram and GET /healthz on WEBHOOK_PORT; in
# polling mode there is no HTTP server and the health check only confirms it is configured so.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The bot's own user (no login shell), and the data folder it owns: a named volume mounted
# there starts out owned by it too.
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/bot \
        --shell /usr/sbin/nologin bot \
    && mkdir /data \
    && chown bot:bot /data

# Only what the package is built from (.dockerignore keeps everything else out).
COPY pyproject.toml README.md /tmp/src/
COPY back_care_guide /tmp/src/back_care_guide
RUN pip install /tmp/src \
    && rm -rf /tmp/src

USER bot
WORKDIR /home/bot
# matplotlib's font cache, built once here rather than at the first /progress chart.
RUN python -c "import matplotlib.font_manager"

ENV DATABASE_URL=sqlite:////data/back_care.db \
    WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8443
VOLUME ["/data"]
EXPOSE 8443

# /healthz answers 200 once the bot is ready (503 before); slim has no curl, so urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; os.environ.get('WEBHOOK_URL') and urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WEBHOOK_PORT', '8443') + '/healthz', timeout=4)"]

# SIGTERM (docker stop) shuts down gracefully: in-flight updates finish, holds stay stored.
CMD ["back-care-guide", "run"]
