# One image for the web server, the worker and the one-shot init step (see docker-compose.yml).
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

# Static files are collected at build time (WhiteNoise serves them); the key only satisfies the
# settings for this one command and is not kept in the image.
RUN DJANGO_SECRET_KEY=collectstatic-at-build-only python manage.py collectstatic --noinput -v 0 \
 && useradd --uid 1000 --create-home nst \
 && mkdir -p /data/media /data/models /app/var \
 && chown -R nst:nst /data /app/var

USER nst
EXPOSE 8000
# docker-compose.yml gives each service its command; alone, the image serves the web site.
CMD ["python", "-m", "nstsite.webserver", "--bind", "0.0.0.0", "--port", "8000"]
