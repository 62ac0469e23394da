#!/usr/bin/env python3
"""Train tameq's demo model: a small Llama on Gutenberg calibration text, under 12 MB.

Usage: train_demo.py CALIB_TXT OUTDIR [--steps N --seed S]

1. Trains a byte-level BPE tokenizer (vocab 4096; specials <unk>=0 <s>=1 </s>=2 <pad>=3; ByteLevel pre-tokenizer
   and decoder, as in the gut models) on the text.
2. Trains a LlamaForCausalLM (hidden 256, 6 layers, 4 heads, 2 KV heads, SwiGLU 768, RoPE theta 1e4, tied
   embeddings) on BOS-first windows of 1024 tokens, AdamW with warmup + cosine, bf16 autocast. The last 5% of
   the tokens are held out; the checkpoint with the best held-out loss is kept. The defaults (peak lr 8e-3,
   weight decay 0.5, 600 steps) were picked from a sweep (tools/README.md) because they give the BOS a massive
   activation, the property DFRot is about, at a modest cost in perplexity.
3. Prints, for the BOS and for the median token, the largest |residual| after each layer (massive activations).
4. Saves OUTDIR/{config.json, generation_config.json, model.safetensors (bf16), tokenizer.json, training.json,
   train.log}.
"""
import argparse
import datetime
import hashlib
import json
import math
import os
import time

import numpy as np
import tokenizers
import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
BOS = 1


class Log:
    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8")

    def __call__(self, msg):
        print(msg, flush=True)
        self.f.write(msg + "\n")
        self.f.flush()


def train_tokenizer(text, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    # Chunks cut after a newline, so words are never split between chunks.
    chunks, start = [], 0
    while start < len(text):
        end = text.find("\n", start + 65536)
        end = len(text) if end < 0 else end + 1
        chunks.append(text[start:end])
        start = end
    tok.train_from_iterator(chunks, trainer)
    for i, s in enumerate(SPECIALS):
        assert tok.token_to_id(s) == i, f"special {s} is not id {i}"
    assert tok.encode("a<s>b", add_special_tokens=False).ids[1] == BOS
    return tok


def batch_windows(ids, starts, ctx):
    """BOS + ids[s : s + ctx - 1] for each start -> [B, ctx]."""
    offs = starts[:, None] + torch.arange(ctx - 1, device=ids.device)[None, :]
    bos = torch.full((len(starts), 1), BOS, dtype=ids.dtype, device=ids.device)
    return torch.cat([bos, ids[offs]], dim=1)


@torch.no_grad()
def held_out_loss(model, val, ctx, batch):
    model.eval()
    n = (len(val) - 1) // (ctx - 1)
    starts = torch.arange(n, device=val.device) * (ctx - 1)
    total, count = 0.0, 0
    for b in range(0, n, batch):
        x = batch_windows(val, starts[b:b + batch], ctx)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=x, labels=x).loss
        total += loss.item() * len(x)
        count += len(x)
    model.train()
    return total / count


@torch.no_grad()
def residual_streams(model, x):
    """The residual stream after each layer (0 = embeddings) for a [1, T] window."""
    residuals = [model.model.embed_tokens(x)]
    hooks = [layer.register_forward_hook(lambda m, i, o: residuals.append(o[0] if isinstance(o, tuple) else o))
             for layer in model.model.layers]
    model(input_ids=x)
    for h in hooks:
        h.remove()
    return residuals


@torch.no_grad()
def bos_ratio(model, x):
    """Largest |residual| of the BOS over all layers, and that of any other token."""
    with torch.autocast("cuda", dtype=torch.bfloat16):
        residuals = residual_streams(model, x)
    bos = max(h[0, 0].float().abs().max().item() for h in residuals)
    other = max(h[0, 1:].float().abs().max().item() for h in residuals)
    return bos, other


@torch.no_grad()
def massive_activations(model, x, log):
    """Largest |residual| after each layer (0 = embeddings): BOS (position 0) against the other tokens."""
    residuals = residual_streams(model, x)
    rows = []
    for layer, h in enumerate(residuals):
        a = h[0].float().abs()  # [T, hidden]
        bos_max, bos_dims = a[0].topk(4)
        tok_max = a[1:].max(dim=1).values
        row = {"layer": layer, "bos_max": bos_max[0].item(), "bos_top_dims": bos_dims.tolist(),
               "bos_top_values": [round(v, 2) for v in bos_max.tolist()],
               "median_token_max": tok_max.median().item(), "max_other_token": tok_max.max().item(),
               "median_abs": a[1:].median().item()}
        rows.append(row)
        log(f"hidden {layer}: BOS max |x| {row['bos_max']:.2f} dims {row['bos_top_dims']} "
            f"values {row['bos_top_values']} | other tokens: median of max |x| {row['median_token_max']:.2f}, "
            f"max {row['max_other_token']:.2f}, median |x| {row['median_abs']:.3f}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("calib_txt")
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--ctx", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--lr", type=float, default=8e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.5)
    ap.add_argument("--eval-every", type=int, default=50)
    args = ap.parse_args()

    os.makedirs(args.outdir, exist_ok=True)
    log = Log(os.path.join(args.outdir, "train.log"))
    t0 = time.time()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    device = "cuda"

    raw = open(args.calib_txt, "rb").read()
    text = raw.decode("utf-8")
    data_sha = hashlib.sha256(raw).hexdigest()
    log(f"data {args.calib_txt}: {len(raw)} bytes sha256 {data_sha}")

    tok = train_tokenizer(text, args.vocab)
    tok.save(os.path.join(args.outdir, "tokenizer.json"))
    ids = tok.encode(text, add_special_tokens=False).ids
    n_val = len(ids) // 20
    train_ids = torch.tensor(ids[:-n_val], dtype=torch.int64, device=device)
    val_ids = torch.tensor(ids[-n_val:], dtype=torch.int64, device=device)
    log(f"tokenizer: vocab {tok.get_vocab_size()}, {len(ids)} tokens ({len(raw) / len(ids):.2f} bytes/token), "
        f"train {len(train_ids)}, held out {len(val_ids)} (last 5%), {time.time() - t0:.1f}s")

    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=256, intermediate_size=768, num_hidden_layers=6,
        num_attention_heads=4, num_key_value_heads=2, head_dim=64, hidden_act="silu",
        max_position_embeddings=args.ctx, rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=True, attention_bias=False, mlp_bias=False,
        bos_token_id=BOS, eos_token_id=2, pad_token_id=3)
    model = LlamaForCausalLM(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters ({2 * n_params / 1e6:.2f} MB as bf16), tied embeddings, "
        f"rope {model.config.to_dict().get('rope_parameters')}, attention {model.config._attn_implementation}")

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))

    probe = batch_windows(val_ids, torch.zeros(1, dtype=torch.int64, device=device), args.ctx)
    gen = torch.Generator(device=device)
    gen.manual_seed(args.seed)
    tokens_per_step = args.batch * (args.ctx - 1)
    best = (float("inf"), -1, None)
    curve = []
    t_train = time.time()
    model.train()
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            val = held_out_loss(model, val_ids, args.ctx, args.batch)
            curve.append({"step": step, "held_out_loss": val})
            mark = ""
            if val < best[0]:
                best = (val, step, {k: v.detach().clone() for k, v in model.state_dict().items()})
                mark = " (best)"
            bos, other = bos_ratio(model, probe)
            log(f"step {step} held-out loss {val:.4f} ppl {math.exp(val):.2f}{mark} | "
                f"max |residual| BOS {bos:.2f}, other tokens {other:.2f}")
        if step == args.steps:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        starts = torch.randint(0, len(train_ids) - args.ctx, (args.batch,), device=device, generator=gen)
        x = batch_windows(train_ids, starts, args.ctx)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % 25 == 0:
            seen = (step + 1) * tokens_per_step
            dt = time.time() - t_train
            log(f"step {step + 1} loss {loss.item():.4f} lr {lr_at(step):.2e} tokens {seen} "
                f"epochs {seen / len(train_ids):.2f} tok/s {seen / dt:.0f}")
    train_seconds = time.time() - t_train
    tokens_seen = args.steps * tokens_per_step
    log(f"done: {args.steps} steps, {tokens_seen} tokens ({tokens_seen / len(train_ids):.1f} epochs), "
        f"{train_seconds:.1f}s; keeping step {best[1]} (held-out loss {best[0]:.4f})")

    model.load_state_dict(best[2])
    model.eval()
    model.float()
    # Massive activations: one held-out BOS-first window, fp32.
    torch.backends.cuda.matmul.allow_tf32 = False
    massive = massive_activations(model, probe, log)

    model.to(torch.bfloat16)
    model.generation_config.bos_token_id = BOS
    model.generation_config.eos_token_id = 2
    model.generation_config.pad_token_id = 3
    model.save_pretrained(args.outdir, safe_serialization=True)
    size = os.path.getsize(os.path.join(args.outdir, "model.safetensors"))
    log(f"saved {args.outdir}/model.safetensors: {size} bytes (bf16)")
    assert size <= 12_000_000, "demo model over 12 MB"

    with open(os.path.join(args.outdir, "training.json"), "w", encoding="utf-8") as f:
        json.dump({
            "arch": "llama", "script": "tools/train_demo.py", "seed": args.seed,
            "data": "gutenberg/calib.txt", "data_sha256": data_sha, "data_bytes": len(raw),
            "tokenizer": {"type": "byte-level BPE", "vocab": tok.get_vocab_size(), "specials": SPECIALS,
                          "trained_on": "the whole calib.txt"},
            "tokens_total": len(ids), "tokens_train": len(train_ids), "tokens_held_out": len(val_ids),
            "model": {"hidden": 256, "layers": 6, "heads": 4, "kv_heads": 2, "head_dim": 64,
                      "intermediate": 768, "rope_theta": 10000.0, "tied_embeddings": True,
                      "parameters": n_params, "stored_dtype": "bfloat16", "safetensors_bytes": size},
            "training": {"ctx": args.ctx, "window": "BOS (id 1) + 1023 tokens at a random offset",
                         "batch": args.batch, "steps": args.steps, "warmup": args.warmup, "lr": args.lr,
                         "schedule": f"linear warmup, cosine to {args.min_lr_ratio} x lr",
                         "optimizer": "AdamW betas (0.9, 0.95), eps 1e-8, fused",
                         "weight_decay": args.weight_decay, "grad_clip": 1.0, "autocast": "bfloat16",
                         "tokens_seen": tokens_seen, "seconds": round(train_seconds, 1),
                         "kept_step": best[1], "held_out_loss": best[0]},
            "held_out_curve": curve,
            "massive_activations": massive,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "tokenizers": tokenizers.__version__},
            "device": torch.cuda.get_device_name(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }, f, indent=1)
        f.write("\n")
    log(f"total {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
