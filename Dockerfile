# One image for the proxy (nginx), the pages (gunicorn), the websockets (daphne), the worker and the
# one-shot init step (see docker-compose.yml).
#   docker build -t nstsite .                                  # worker can use an NVIDIA GPU
#   docker build --build-arg TENSORFLOW_EXTRA= -t nstsite .    # CPU only, about 3 GB smaller
FROM python:3.11-slim-bookworm

# TensorFlow's pip extra: "and-cuda" pulls in the CUDA/cuDNN libraries the GPU worker needs.
ARG TENSORFLOW_EXTRA=and-cuda

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    NST_MODEL_DIR=/data/models \
    DJANGO_MEDIA_ROOT=/data/media

# nginx from Debian (the base image's release), as scripts/run installs it: the proxy in front.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt \
 && if [ -n "$TENSORFLOW_EXTRA" ]; then \
        tf=$(grep -i '^tensorflow==' requirements.txt | cut -d' ' -f1) \
     && pip install "tensorflow[$TENSORFLOW_EXTRA]==${tf#*==}"; \
    fi

COPY . .

# Static files are collected at build time (nginx serves them); the key only satisfies the
# settings for this one command and is not kept in the image.
RUN DJANGO_SECRET_KEY=collectstatic-at-build-only python manage.py collectstatic --noinput -v 0 \
 && useradd --uid 1000 --create-home nst \
 && mkdir -p /data/media /data/models /app/var /run/nstsite \
 && chown -R nst:nst /data /app/var /run/nstsite \
 && chmod 700 /run/nstsite

USER nst
EXPOSE 8000
# docker-compose.yml gives each service its command; alone, the image serves the pages (no proxy,
# no websockets: docker compose runs the whole tier).
CMD ["python", "-m", "nstsite.webtier.webserver", "pages", "--bind", "0.0.0.0:8000"]
