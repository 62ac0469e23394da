#!/usr/bin/env python3
"""Hugging Face fp32 reference numbers that tameq's engine is tested against.

Usage: hf_reference.py MODEL_DIR EVAL_TXT OUTDIR --name NAME

Writes into OUTDIR:
  NAME_e64.json                  perplexity protocol E64 of DESIGN.md (ctx 1024, 64 windows, BOS first)
  NAME_logits.json, NAME_logits.f32
                                 full-vocab fp32 logits of every position of two BOS-first prompts
  NAME_greedy.json               greedy continuation of prompt 1 (HF generate, do_sample=False)

Runs transformers in float32 with eager attention and TF32 off, on the GPU when there is one.
"""
import argparse
import datetime
import hashlib
import json
import math
import os

import numpy as np
import tokenizers
import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

CTX = 1024
WINDOWS = 64
BATCH = 8
PROMPTS = ["The old man looked at the sea and", "It was the best of times, it was"]
GREEDY_TOKENS = 24


def load_model(model_dir, device):
    # Exact fp32 arithmetic: no TF32 in matmuls or convolutions.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model = model.to(device).eval()
    assert all(p.dtype == torch.float32 for p in model.parameters()), "model is not fp32"
    return model


def forward_logits(model, ids):
    """ids: [B, T] int64 on the model's device -> fp32 logits [B, T, V]."""
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False)
    return out.logits.float()


def run_e64(model, tok, eval_path, bos, name, device):
    raw = open(eval_path, "rb").read()
    # Exact bytes, no newline translation: the C++ engine reads the file as bytes too.
    ids = tok.encode(raw.decode("utf-8"), add_special_tokens=False).ids
    need = WINDOWS * (CTX - 1)
    assert len(ids) >= need, f"{eval_path}: {len(ids)} tokens, need {need}"
    windows = torch.tensor(ids[:need], dtype=torch.int64).view(WINDOWS, CTX - 1)
    inputs = torch.cat([torch.full((WINDOWS, 1), bos, dtype=torch.int64), windows], dim=1).to(device)

    window_nll = []
    total = 0.0
    for b in range(0, WINDOWS, BATCH):
        x = inputs[b:b + BATCH]
        logits = forward_logits(model, x)[:, :-1]  # predictions of tokens 1..CTX-1, never the BOS
        logp = torch.log_softmax(logits.double(), dim=-1)
        nll = -logp.gather(-1, x[:, 1:].unsqueeze(-1)).squeeze(-1)  # [B, CTX-1], double
        window_nll += nll.mean(dim=1).tolist()
        total += nll.sum().item()
    scored = WINDOWS * (CTX - 1)
    nll_mean = total / scored
    return {
        "model": name,
        "dataset": "gutenberg/eval.txt",
        "dataset_sha256": hashlib.sha256(raw).hexdigest(),
        "dataset_tokens": len(ids),
        "ctx": CTX,
        "windows": WINDOWS,
        "bos_id": bos,
        "bos_handling": "BOS prepended to each window of ctx-1 tokens; BOS never scored",
        "tokens_scored": scored,
        "nll_mean": nll_mean,
        "ppl": math.exp(nll_mean),
        "window_nll": window_nll,
    }


def run_logits(model, tok, bos, name, device):
    prompts, blobs, offset = [], [], 0
    for text in PROMPTS:
        ids = [bos] + tok.encode(text, add_special_tokens=False).ids
        logits = forward_logits(model, torch.tensor([ids], device=device))[0].cpu().numpy()
        blobs.append(logits.astype("<f4"))
        prompts.append({"text": text, "ids": ids, "shape": list(logits.shape), "offset_floats": offset,
                        "argmax": logits.argmax(axis=-1).tolist()})
        offset += logits.size
    meta = {
        "model": name,
        "file": f"{name}_logits.f32",
        "dtype": "float32 little-endian",
        "layout": "prompts in order, each [position][vocab] row-major; prompt i starts at offset_floats",
        "vocab": int(blobs[0].shape[1]),
        "prompts": prompts,
    }
    return meta, np.concatenate([b.reshape(-1) for b in blobs])


def run_greedy(model, tok, bos, name, device):
    prompt_ids = [bos] + tok.encode(PROMPTS[0], add_special_tokens=False).ids
    x = torch.tensor([prompt_ids], device=device)
    # No stop on EOS, so that exactly GREEDY_TOKENS come out (generate fills unset fields from the model's).
    model.generation_config.eos_token_id = None
    gen_config = transformers.GenerationConfig(
        do_sample=False, max_new_tokens=GREEDY_TOKENS, min_new_tokens=0,
        eos_token_id=None, pad_token_id=model.config.pad_token_id, bos_token_id=bos)
    with torch.no_grad():
        out = model.generate(x, attention_mask=torch.ones_like(x), generation_config=gen_config)
    gen_ids = out[0, len(prompt_ids):].tolist()

    # Cross-check with argmax over full recomputation (no KV cache), and keep each step's top-2 margin
    # so a test can tell a robust token from a near tie.
    seq, recompute, margins = list(prompt_ids), [], []
    for _ in range(GREEDY_TOKENS):
        last = forward_logits(model, torch.tensor([seq], device=device))[0, -1]
        top = torch.topk(last, 2)
        recompute.append(int(top.indices[0]))
        margins.append(float(top.values[0] - top.values[1]))
        seq.append(recompute[-1])
    return {
        "model": name,
        "prompt": PROMPTS[0],
        "prompt_ids": prompt_ids,
        "method": "transformers generate(do_sample=False), fp32, eos_token_id=None",
        "ids": gen_ids,
        "text": tok.decode(gen_ids),
        "full_text": tok.decode(prompt_ids + gen_ids),
        "recompute_ids": recompute,
        "recompute_matches": recompute == gen_ids,
        "top2_margins": margins,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("eval_txt")
    ap.add_argument("outdir")
    ap.add_argument("--name", required=True)
    args = ap.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(args.outdir, exist_ok=True)
    tok = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    model = load_model(args.model_dir, device)
    bos = model.config.bos_token_id
    stamp = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }

    def write_json(suffix, obj):
        path = os.path.join(args.outdir, f"{args.name}_{suffix}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({**obj, **stamp}, f, indent=1, ensure_ascii=False)
            f.write("\n")

    e64 = run_e64(model, tok, args.eval_txt, bos, args.name, device)
    write_json("e64", e64)
    print(f"{args.name}: E64 dataset gutenberg/eval.txt ctx {CTX} windows {WINDOWS} BOS {bos} first, "
          f"{e64['tokens_scored']} tokens scored: nll {e64['nll_mean']:.6f} ppl {e64['ppl']:.6f}")

    meta, logits = run_logits(model, tok, bos, args.name, device)
    logits.tofile(os.path.join(args.outdir, f"{args.name}_logits.f32"))
    write_json("logits", meta)
    print(f"{args.name}: logits shapes {[p['shape'] for p in meta['prompts']]}")

    greedy = run_greedy(model, tok, bos, args.name, device)
    write_json("greedy", greedy)
    print(f"{args.name}: greedy {greedy['full_text']!r} (recompute matches: {greedy['recompute_matches']}, "
          f"min top-2 margin {min(greedy['top2_margins']):.4f})")


if __name__ == "__main__":
    main()
