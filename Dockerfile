# One image for wallet, gifting, payout and the coinlog CLI. It runs `coinlog --help` by default;
# docker-compose.yml gives each container its command (`python -m services.wallet`, ...).

# A patch release pinned, on the Debian release the local stack is tested on.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/coinlog
WORKDIR /src
# Dependencies first, from the lockfile alone (pinned, hash-checked), so a source change does
# not reinstall them.
COPY requirements.lock ./
RUN /opt/coinlog/bin/pip install --require-hashes -r requirements.lock
COPY . .
RUN /opt/coinlog/bin/pip install --no-deps .

FROM ${PYTHON_IMAGE}
# The venv links to the base image's interpreter, which is at the same path in both stages.
COPY --from=build /opt/coinlog /opt/coinlog
ENV PATH=/opt/coinlog/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COINLOG_HTTP_HOST=0.0.0.0 \
    COINLOG_HTTP_PORT=8080
# The commit built, for coinlog_build_info (`--build-arg COINLOG_BUILD_COMMIT=$(git rev-parse
# --short=12 HEAD)`); the image has no .git to ask.
ARG COINLOG_BUILD_COMMIT=
ENV COINLOG_BUILD_COMMIT=${COINLOG_BUILD_COMMIT}
RUN useradd --create-home --uid 10001 --user-group coinlog
USER coinlog
# No sources here: the code runs from the installed package.
WORKDIR /home/coinlog
EXPOSE 8080
CMD ["coinlog", "--help"]
