# syntax=docker/dockerfile:1
# The operator's image: `docker build -t lambda-vpc-operator .`
#
# Two stages. The builder turns the project into a wheel, plus wheels of every dependency (all
# of them ship manylinux wheels, so no compiler is needed even there). The final stage installs
# those wheels from a build-time mount, offline, so it holds no build tools, no source tree and no
# pip cache, and runs as the fixed non-root uid 65532 that the Helm chart's securityContext names.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel is built from (see .dockerignore): the metadata, the readme it names, the code.
COPY pyproject.toml README.md ./
COPY operator ./operator
# One wheel for the project and one for each dependency (all of which ship binary wheels).
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="lambda-vpc-operator" \
      org.opencontainers.image.description="Attach AWS Lambda functions to VPCs declaratively from Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The wheels are mounted for this one step, never copied into a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels lambda-vpc-operator \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nonroot
# The root file system is read-only in the chart; /tmp is an emptyDir there.
WORKDIR /tmp
USER 65532:65532
# kopf's liveness endpoint (--liveness), metrics (later), admission webhook (preview).
EXPOSE 8080 9090 9443
ENTRYPOINT ["lambda-vpc-operator"]
CMD ["run"]
