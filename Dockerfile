# sonic in a container, used like the official redis image:
#   docker build -t sonic .
#   docker run -d -p 6379:6379 -v sonic-data:/data sonic
#   docker run -d sonic --requirepass s3cret --compression-level 3
#   docker run -d -v $PWD/sonic.conf:/etc/sonic.conf:ro sonic /etc/sonic.conf
# docker-entrypoint.sh adds --protected-mode no and --bind "* -::*" unless given.
# The Python: 3.11 by default because it runs sonic's request path faster
# than 3.12 and 3.13 (measured on one machine: a pipelined GET takes 14,300
# instructions under 3.11, 17,100 under 3.12, 16,900 under 3.13, and 3.11
# served 12-20% more GETs per second than 3.12; bench/README.rst).  Any
# 3.10+ works: docker build --build-arg PYTHON_VERSION=3.13 .
ARG PYTHON_VERSION=3.11
# Stage 1: build wheels for sonic and its dependencies. python-lzf ships
# only as source, so this stage has a C compiler; the image itself does not.
FROM python:${PYTHON_VERSION}-slim AS wheels
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends gcc libc6-dev; \
    rm -rf /var/lib/apt/lists/*
COPY . /tmp/sonic-src
RUN pip wheel --no-cache-dir --wheel-dir /wheels /tmp/sonic-src

FROM python:${PYTHON_VERSION}-slim

# redis-tools gives redis-cli for the HEALTHCHECK and for compose health checks.
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends redis-tools; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 999 sonic; \
    useradd --system --uid 999 --gid sonic --home-dir /data --no-create-home sonic; \
    mkdir /data; \
    chown sonic:sonic /data

# Install the package (not editable) from the wheels, so twistd finds the plugin
# in site-packages; the source tree is not kept in the image. Twisted's
# plugin cache is written now: site-packages is read-only for the sonic
# user, and twistd would warn at every start otherwise.
COPY --from=wheels /wheels /tmp/wheels
RUN set -eux; \
    pip install --no-cache-dir --no-index --find-links /tmp/wheels sonic-server; \
    rm -rf /tmp/wheels; \
    sonic-server --version; \
    python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"

COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /data
VOLUME /data
USER sonic
EXPOSE 6379

# NOAUTH also proves the server answers (when requirepass is set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD redis-cli -p 6379 ping | grep -qE 'PONG|NOAUTH' || exit 1

ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["sonic-server"]
