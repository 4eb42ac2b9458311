"""A tiny BERT sentence-transformers model built from scratch (no hub), for real-code-path tests."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def build_tiny_model(path: Path, texts: Iterable[str], seed: int = 0, dim: int = 32) -> Path:
    """Train a WordPiece vocabulary on ``texts``, initialise a 2-layer BERT, save as an ST model."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers import models as stm
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(list(texts), trainers.WordPieceTrainer(vocab_size=2000, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                     sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=dim, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=2 * dim, max_position_embeddings=128)
    torch.manual_seed(seed)
    hf_dir = path / "hf"
    BertModel(cfg).save_pretrained(hf_dir)
    hf_tok.save_pretrained(hf_dir)
    st = SentenceTransformer(modules=[stm.Transformer(str(hf_dir), max_seq_length=128), stm.Pooling(dim, "mean"),
                                      stm.Normalize()], device="cpu")
    st.prompts = {"query": "query: ", "passage": "passage: "}
    out = path / "st"
    st.save(str(out))
    return out
