"""Hong et al. (ICLR 2026), printed baseline values, so a user online can check xlalign against the paper.

Table 1 (ar, zh, es, th, vi) and Table 4 (de, el, hi, ro, tr): XQuAD, **Multi** scenario, English +
target, ``per-question`` pools (|D| = 2380), base models before fine-tuning. ``max_r_norm`` is the
paper's printed Max@R_norm, which xlalign reproduces as ``max_r_norm_of_mean``.
"""

from __future__ import annotations

import io

import pandas as pd

_SOURCE = "Hong et al. 2026, Tables 1 and 4 (XQuAD, Multi, per-question pools)"
#: model, target, query_lang, complete@10, max_r, max_r_norm — transcribed from the paper's "Base" columns.
_TABLE = """\
model,target,query_lang,complete@10,max_r,max_r_norm
intfloat/multilingual-e5-base,ar,en,15.46,106.42,43.88
intfloat/multilingual-e5-base,ar,ar,8.91,241.06,32.33
intfloat/multilingual-e5-base,zh,en,29.24,53.04,53.71
intfloat/multilingual-e5-base,zh,zh,0.50,650.95,18.31
intfloat/multilingual-e5-base,es,en,58.99,19.83,67.61
intfloat/multilingual-e5-base,es,es,36.30,49.46,54.70
intfloat/multilingual-e5-base,th,en,24.37,69.94,49.81
intfloat/multilingual-e5-base,th,th,11.76,173.13,37.01
intfloat/multilingual-e5-base,vi,en,45.88,35.95,59.20
intfloat/multilingual-e5-base,vi,vi,18.15,149.21,39.11
intfloat/multilingual-e5-base,de,en,54.20,24.16,64.82
intfloat/multilingual-e5-base,de,de,39.41,45.38,55.91
intfloat/multilingual-e5-base,el,en,24.45,63.15,51.25
intfloat/multilingual-e5-base,el,el,7.73,248.40,31.91
intfloat/multilingual-e5-base,hi,en,46.97,26.87,63.32
intfloat/multilingual-e5-base,hi,hi,26.55,101.12,44.60
intfloat/multilingual-e5-base,ro,en,53.61,23.14,65.43
intfloat/multilingual-e5-base,ro,ro,23.28,89.76,46.28
intfloat/multilingual-e5-base,tr,en,42.44,35.54,59.37
intfloat/multilingual-e5-base,tr,tr,24.20,94.54,45.55
Alibaba-NLP/gte-multilingual-base,ar,en,66.05,13.63,72.90
Alibaba-NLP/gte-multilingual-base,ar,ar,49.58,37.38,58.65
Alibaba-NLP/gte-multilingual-base,zh,en,68.15,13.16,73.40
Alibaba-NLP/gte-multilingual-base,zh,zh,58.82,17.73,69.19
Alibaba-NLP/gte-multilingual-base,es,en,77.14,9.30,78.29
Alibaba-NLP/gte-multilingual-base,es,es,71.01,12.12,74.56
Alibaba-NLP/gte-multilingual-base,th,en,64.96,13.83,72.69
Alibaba-NLP/gte-multilingual-base,th,th,46.13,35.04,59.57
Alibaba-NLP/gte-multilingual-base,vi,en,73.11,10.85,76.12
Alibaba-NLP/gte-multilingual-base,vi,vi,62.10,19.46,67.87
Alibaba-NLP/gte-multilingual-base,de,en,75.13,10.45,76.65
Alibaba-NLP/gte-multilingual-base,de,de,67.90,16.27,70.40
Alibaba-NLP/gte-multilingual-base,el,en,67.14,11.95,74.75
Alibaba-NLP/gte-multilingual-base,el,el,51.68,25.08,64.29
Alibaba-NLP/gte-multilingual-base,hi,en,71.93,12.07,74.61
Alibaba-NLP/gte-multilingual-base,hi,hi,54.96,27.76,62.86
Alibaba-NLP/gte-multilingual-base,ro,en,73.70,11.04,75.88
Alibaba-NLP/gte-multilingual-base,ro,ro,64.54,16.94,69.83
Alibaba-NLP/gte-multilingual-base,tr,en,69.24,12.82,73.76
Alibaba-NLP/gte-multilingual-base,tr,tr,55.29,26.18,63.68
jinaai/jina-embeddings-v3,ar,en,55.13,25.92,63.82
jinaai/jina-embeddings-v3,ar,ar,57.65,28.66,62.41
jinaai/jina-embeddings-v3,zh,en,65.46,15.72,70.88
jinaai/jina-embeddings-v3,zh,zh,58.57,23.61,65.14
jinaai/jina-embeddings-v3,es,en,68.32,19.92,67.54
jinaai/jina-embeddings-v3,es,es,68.74,18.03,68.95
jinaai/jina-embeddings-v3,th,en,56.39,23.19,65.39
jinaai/jina-embeddings-v3,th,th,58.07,25.28,64.18
jinaai/jina-embeddings-v3,vi,en,59.75,24.99,64.34
jinaai/jina-embeddings-v3,vi,vi,61.51,25.42,64.10
jinaai/jina-embeddings-v3,de,en,69.50,15.12,71.44
jinaai/jina-embeddings-v3,de,de,72.86,13.94,72.58
jinaai/jina-embeddings-v3,el,en,53.03,31.84,60.93
jinaai/jina-embeddings-v3,el,el,57.31,27.76,62.86
jinaai/jina-embeddings-v3,hi,en,61.93,20.27,67.30
jinaai/jina-embeddings-v3,hi,hi,62.86,24.82,64.43
jinaai/jina-embeddings-v3,ro,en,64.54,24.53,64.63
jinaai/jina-embeddings-v3,ro,ro,65.55,19.67,67.73
jinaai/jina-embeddings-v3,tr,en,62.44,21.33,66.58
jinaai/jina-embeddings-v3,tr,tr,65.71,18.89,68.28
BAAI/bge-m3,ar,en,59.50,19.66,67.73
BAAI/bge-m3,ar,ar,65.71,18.96,68.24
BAAI/bge-m3,zh,en,67.82,15.14,71.42
BAAI/bge-m3,zh,zh,63.19,14.99,71.56
BAAI/bge-m3,es,en,77.90,9.88,77.44
BAAI/bge-m3,es,es,77.65,9.73,77.66
BAAI/bge-m3,th,en,67.90,14.25,72.27
BAAI/bge-m3,th,th,67.23,13.28,73.27
BAAI/bge-m3,vi,en,71.01,13.22,73.33
BAAI/bge-m3,vi,vi,66.72,15.06,71.49
"""


def paper_table() -> pd.DataFrame:
    """The transcribed values (one row per model × target × query language)."""
    return pd.read_csv(io.StringIO(_TABLE))


def paper_values(model: str, pivot: str, target: str, query_lang: str) -> dict[str, float] | None:
    """The paper's Multi values for this setting, or None when the paper does not report it (or the pivot
    is not English)."""
    if pivot != "en":
        return None
    t = paper_table()
    row = t[(t.model == model) & (t.target == target) & (t.query_lang == query_lang)]
    if row.empty:
        return None
    r = row.iloc[0]
    return {"complete@10": float(r["complete@10"]), "max_r": float(r["max_r"]), "max_r_norm": float(r["max_r_norm"])}


PAPER_COLUMNS = ("paper complete@10", "paper max_r", "paper max_r_norm_of_mean")


def comparability_note(data: str, pool: str, pivot: str, models: list[str], targets: list[str]) -> str:
    """When the paper's printed values sit beside ours, and why they do not here (one or two sentences)."""
    t = paper_table()
    reported = ", ".join(dict.fromkeys(t.model))
    langs = ", ".join(dict.fromkeys(t.target))
    rule = (f"{_SOURCE} are comparable only on XQuAD with per-question pools (1190 documents per language), an "
            f"English pivot, and the models and targets the paper reports ({reported}; {langs}).")
    missing = []
    if "xquad" not in data.lower():
        missing.append(f"the data is {data}, not XQuAD")
    if pool != "per-question":
        missing.append(f"the pools are {pool}")
    if pivot != "en":
        missing.append(f"the pivot is {pivot}")
    if not any(m in set(t.model) for m in models):
        missing.append("none of these models is in the paper")
    elif not any(x in set(t.target) for x in targets):
        missing.append("none of these targets is in the paper")
    if not missing:
        return rule + " The paper columns show them where the paper reports the model and target."
    return rule + " Not shown here: " + "; ".join(missing) + "."


__all__ = ["PAPER_COLUMNS", "comparability_note", "paper_table", "paper_values"]
