# The fieldservice image: one image for the web process (gunicorn) and the scheduler process
# (`flask scheduler run`), chosen by the command. Slim Debian base, non-root user, no compilers at run time.
#   docker build -t fieldservice .
#   docker run -e SECRET_KEY=... -e DATABASE_URL=postgresql://... -p 8000:8000 fieldservice
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY fieldservice ./fieldservice
COPY sync ./sync
COPY media ./media
COPY schedules ./schedules
# the dependencies only: the application runs from /app, next to its migrations (create_app finds them there)
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --upgrade pip && /opt/venv/bin/pip install . \
 && /opt/venv/bin/pip uninstall -y fieldservice

FROM python:3.11-slim-bookworm
# the CJK font for the PDFs (Chinese text); nothing else from apt
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 fieldservice \
 && useradd --system --uid 10001 --gid fieldservice --home-dir /app --shell /usr/sbin/nologin fieldservice
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY wsgi.py gunicorn.conf.py ./
COPY migrations ./migrations
COPY fieldservice ./fieldservice
COPY sync ./sync
COPY media ./media
COPY schedules ./schedules
RUN mkdir -p /app/instance /data/media && chown -R fieldservice:fieldservice /app/instance /data/media
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    FLASK_APP=wsgi \
    FIELDSERVICE_ENV=production \
    LOG_FORMAT=json \
    MEDIA_ROOT=/data/media
USER fieldservice
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
