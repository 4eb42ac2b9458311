# Hugging Face Space (Docker SDK): `python app.py` on port 7860, in public mode (XLALIGN_PUBLIC=1: no remote
# code, allow-listed models only, size-limited uploads, visitors see only their own runs, no server paths).
#
# Hardware: the default targets a CPU Space ("CPU basic", 2 vCPU / 16 GB): PyTorch's CPU-only wheel
# (TORCH_INDEX below), which keeps the image small. For GPU hardware, build with an empty TORCH_INDEX
# (`--build-arg TORCH_INDEX=`, or a Space variable TORCH_INDEX set to empty): requirements.txt's
# torch==2.13.0 then comes from PyPI, the CUDA build, and xlalign finds the GPU by itself. Should the CPU
# index be unreachable at build time, the build says so and falls back to PyPI's build.
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN useradd -m -u 1000 user
USER user
# Runs go to the Space's persistent storage (XLALIGN_PERSISTENT_DIR, /data) when it is mounted and writable,
# else to /home/user/app/runs; the embedding cache and the converted bundled model live in the image.
ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH PYTHONUNBUFFERED=1 \
    GRADIO_SERVER_NAME=0.0.0.0 PORT=7860 GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1 \
    XLALIGN_PUBLIC=1 XLALIGN_PERSISTENT_DIR=/data XLALIGN_CACHE_DIR=/home/user/.cache/xlalign
# Every folder the app writes to, created by the app user (WORKDIR alone would create the app folder as root).
RUN mkdir -p /home/user/app/runs /home/user/.cache/xlalign
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
RUN if [ -n "$TORCH_INDEX" ]; then \
      pip install --no-cache-dir --user --no-deps --timeout 30 --retries 2 --index-url "$TORCH_INDEX" \
        "$(grep -m1 '^torch==' requirements.txt)" \
      || echo "WARNING: $TORCH_INDEX is unreachable: installing torch from PyPI (the CUDA build, ~5 GB larger)"; \
    fi \
 && pip install --no-cache-dir --user -r requirements.txt
COPY --chown=user . .
# At build time, so that the first request waits for none of it: convert the bundled model, encode the demo
# corpus with it into the embedding cache (fp32 and bf16: `auto` resolves on the serving machine), compile
# the ranking and UMAP kernels (numba caches them on disk).
RUN python -m xlalign.services.prewarm

EXPOSE 7860
CMD ["python", "app.py"]
