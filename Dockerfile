# Hugging Face Space (Docker SDK): `python app.py` on port 7860, in public mode (XLALIGN_PUBLIC=1: no remote
# code, allow-listed models only, size-limited uploads, no server paths in errors).
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ git \
    && rm -rf /var/lib/apt/lists/*
RUN useradd -m -u 1000 user
USER user
ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH \
    GRADIO_SERVER_NAME=0.0.0.0 PORT=7860 XLALIGN_PUBLIC=1 \
    XLALIGN_RUNS_DIR=/home/user/app/runs XLALIGN_CACHE_DIR=/home/user/.cache/xlalign
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
RUN pip install --no-cache-dir --user -r requirements.txt
COPY --chown=user . .
# Convert the bundled offline model, and compile the ranking and UMAP kernels (numba caches them on disk),
# at build time so that the first request waits for neither.
RUN python -c "from xlalign.bundled import bundled_model_dir; print(bundled_model_dir())" \
 && python -c "import numpy as np; from xlalign.ranking import rank_golds; \
rank_golds(np.eye(2, dtype='f4'), np.eye(2, dtype='f4'), np.ones(2, int), np.array([[0], [1]])); \
from xlalign.figures import warm_up; warm_up()"

EXPOSE 7860
CMD ["python", "app.py"]
