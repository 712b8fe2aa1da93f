# allywatch serve, with its config and SQLite database on the /data volume.
#   docker build -t allywatch .
#   docker run --rm -v allywatch-data:/data allywatch init
#   docker run -d --name allywatch -v allywatch-data:/data allywatch
# See docs/running.md.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY allywatch allywatch
COPY watchers watchers
COPY store store
COPY alerts alerts
COPY signals signals
COPY templates templates
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /home/allywatch allywatch \
    && mkdir /data && chown allywatch:allywatch /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER allywatch
WORKDIR /data
VOLUME /data
ENV ALLYWATCH_CONFIG=/data/allywatch.yaml \
    PYTHONUNBUFFERED=1
# `docker stop` sends SIGTERM: serve lets the cycle in progress finish, then exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["allywatch"]
CMD ["serve"]
