#!/usr/bin/env python3
"""Small random-weight models of the families tameq loads, with transformers' fp32 outputs on them.

Usage: make_family_fixtures.py OUTDIR [--only NAME ...]

For each model of MODELS writes OUTDIR/NAME/:
  config.json, model.safetensors (bf16: every weight is rounded to bf16 first, so the fp32 reference and the
                                  stored checkpoint hold the same numbers)
  ref_logits.json + ref_logits.f32  full-vocab fp32 logits of every position of PROMPT_LENGTHS prompts (token ids)
  ref_routing.json                  mixtures of experts only: layer 0's MoE block on prompt 1 (its input, the
                                    router's logits, the top-k experts and weights, the block's output)
  ref_greedy.json                   greedy continuation of prompt 0 by generate() (with its KV cache, so a
                                    sliding-window cache is exercised in decode), checked against argmax over
                                    full recomputation without a cache; top-1 minus top-2 margin of each step
No tokenizer is needed: prompts are seeded random ids (BOS first). The vocabulary is 4096 so that the demo
model's tokenizer.json (models/demo-gut-llama) can be put beside each directory on the CPU machine.

The weights are drawn larger than transformers' init (std INIT_STD, norm weights 1 + 0.3·N(0,1), random
biases) so that every part of the block moves the logits and greedy margins are not vanishingly small.
For models with a sliding window the JSON also says how far the logits move when the window is removed
(`window_effect`): a fixture whose prompt is longer than its window and whose logits depend on the window.
Runs in float32 with eager attention and TF32 off, on the GPU when there is one.
"""
import argparse
import copy
import datetime
import json
import os
import sys
import traceback

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM

VOCAB = 4096
BOS = 1
INIT_STD = 0.12
PROMPT_LENGTHS = [11, 24]  # BOS included; 24 > every sliding window below
GREEDY_TOKENS = 16
ROPE = {"rope_type": "default", "rope_theta": 1000000.0}

COMMON = dict(vocab_size=VOCAB, bos_token_id=BOS, eos_token_id=2, pad_token_id=3, max_position_embeddings=256,
              rms_norm_eps=1e-6, hidden_act="silu", initializer_range=INIT_STD, rope_parameters=ROPE)

# Sizes: FFN widths with non-power-of-two Hadamard factors (152 = 76·2, 160 = 20·8, 304 = 76·4, 192 = 12·16),
# GQA everywhere, head_dim independent of hidden/heads where the family allows it.
MODELS = {
    "qwen3-tied": ("Qwen3Config", dict(hidden_size=64, intermediate_size=152, num_hidden_layers=3,
                                       num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                                       tie_word_embeddings=True, attention_bias=False)),
    "qwen3-untied": ("Qwen3Config", dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=1, head_dim=64,
                                         tie_word_embeddings=False, attention_bias=False)),
    "mistral-swa": ("MistralConfig", dict(hidden_size=64, intermediate_size=192, num_hidden_layers=2,
                                          num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                          tie_word_embeddings=True, sliding_window=8)),
    "qwen2-swa": ("Qwen2Config", dict(hidden_size=64, intermediate_size=304, num_hidden_layers=3,
                                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                                      use_sliding_window=True, sliding_window=8, max_window_layers=1)),
    # Fused qkv_proj / gate_up_proj, longrope scaling with original context 32 < max 128: prompts of 11 and 24
    # tokens (and the greedy run, 27) use short_factor, the 40-token prompt long_factor; both scale cos/sin by
    # sqrt(1 + ln(128/32) / ln(32)).
    "phi3-longrope": ("Phi3Config", dict(hidden_size=64, intermediate_size=240, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
                                         max_position_embeddings=128, original_max_position_embeddings=32,
                                         sliding_window=None,
                                         rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                                          "short_factor": [1.0, 1.1, 1.3, 1.6, 2.0, 2.5, 3.1, 4.0],
                                                          "long_factor": [1.0, 1.5, 2.2, 3.0, 4.5, 6.0, 9.0, 12.0],
                                                          "original_max_position_embeddings": 32})),
    # Gemma 2: (1 + w) RMSNorm, embeddings × √hidden, GeGLU (tanh GELU), q scaled by query_pre_attn_scalar^-½,
    # attention and final logit soft-capping, post-attention / post-MLP norms, sliding layers alternating with
    # global ones (layer 0 sliding). head_dim 32 ≠ hidden/heads, FFN 160 = 20·8.
    "gemma2": ("Gemma2Config", dict(hidden_size=64, intermediate_size=160, num_hidden_layers=3,
                                    num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                                    hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=24,
                                    sliding_window=8, attn_logit_softcapping=5.0, final_logit_softcapping=3.0,
                                    tie_word_embeddings=True)),
    # Gemma 3 (text): Gemma 2's block with per-head q/k RMSNorm (1 + w), no soft-capping, five sliding layers per
    # global one (here layer_types given: sliding, sliding, full), a separate RoPE base for sliding layers.
    "gemma3": ("Gemma3TextConfig", dict(hidden_size=64, intermediate_size=152, num_hidden_layers=3,
                                        num_attention_heads=4, num_key_value_heads=1, head_dim=32,
                                        hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=32,
                                        sliding_window=8, tie_word_embeddings=True,
                                        layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                                        rope_parameters={"full_attention": {"rope_type": "default",
                                                                            "rope_theta": 1000000.0},
                                                         "sliding_attention": {"rope_type": "default",
                                                                               "rope_theta": 10000.0}})),
    # Mixtral: 4 SwiGLU experts of width 152 = 76·2, top-2 softmax routing (renormalised over the two).
    "mixtral": ("MixtralConfig", dict(hidden_size=64, intermediate_size=152, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                                      num_local_experts=4, num_experts_per_tok=2, sliding_window=None,
                                      tie_word_embeddings=False, router_jitter_noise=0.0)),
    # Qwen3-MoE: q/k norms, 8 experts of width 80 = 20·4, top-2 with norm_topk_prob, layer 1 a dense MLP
    # (mlp_only_layers) of width 160.
    "qwen3-moe": ("Qwen3MoeConfig", dict(hidden_size=64, intermediate_size=160, moe_intermediate_size=80,
                                         num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                                         head_dim=16, num_experts=8, num_experts_per_tok=2, norm_topk_prob=True,
                                         decoder_sparse_step=1, mlp_only_layers=[1], tie_word_embeddings=False,
                                         attention_bias=False)),
}
GEMMA = {"gemma2", "gemma3"}  # norm weights are stored as w of (1 + w)
MOE = {"mixtral", "qwen3-moe"}
PROMPT_LENGTHS_OF = {"phi3-longrope": [11, 24, 40]}
# Seeds of the weights (torch) and prompts (numpy), fixed per model so that adding a model changes no other.
SEED = {"mistral-swa": 0, "qwen2-swa": 1, "qwen3-tied": 2, "qwen3-untied": 3, "phi3-longrope": 4, "gemma2": 5,
        "gemma3": 6, "mixtral": 7, "qwen3-moe": 8}


def exact_fp32():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def build(name, device):
    cls_name, kw = MODELS[name]
    common = {k: v for k, v in COMMON.items() if not (k == "hidden_act" and name in GEMMA)}
    config = getattr(transformers, cls_name)(**{**common, **kw})
    config._attn_implementation = "eager"
    torch.manual_seed(SEED[name] + 1)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_((0 if name in GEMMA else 1) + 0.3 * torch.randn_like(p))
            elif pname.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(INIT_STD * torch.randn_like(p))
            p.copy_(p.bfloat16().float())  # what the bf16 checkpoint holds
    model.tie_weights()
    return model.to(device).eval()


def logits_of(model, ids, device):
    x = torch.tensor([ids], device=device)
    with torch.no_grad():
        return model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits[0].float().cpu().numpy()


def prompts_for(name):
    rng = np.random.default_rng(1000 + SEED[name])
    return [[BOS] + rng.integers(4, VOCAB, size=n - 1).tolist() for n in PROMPT_LENGTHS_OF.get(name, PROMPT_LENGTHS)]


def without_window(model, device):
    """The same weights with every layer full attention (to measure what the window changes)."""
    config = copy.deepcopy(model.config)
    if getattr(config, "layer_types", None) is not None:
        # Gemma's masks need a sliding_window even when no layer slides
        config.layer_types = ["full_attention"] * config.num_hidden_layers
    if config.model_type not in ("gemma2", "gemma3_text"):
        config.sliding_window = None
    if hasattr(config, "use_sliding_window"):
        config.use_sliding_window = False
    full = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    full.load_state_dict(model.state_dict())
    return full.to(device).eval()


def greedy(model, prompt, device):
    x = torch.tensor([prompt], device=device)
    model.generation_config.eos_token_id = None
    gen = transformers.GenerationConfig(do_sample=False, max_new_tokens=GREEDY_TOKENS, min_new_tokens=0,
                                        eos_token_id=None, pad_token_id=3, bos_token_id=BOS)
    with torch.no_grad():
        out = model.generate(x, attention_mask=torch.ones_like(x), generation_config=gen)
    ids = out[0, len(prompt):].tolist()
    # Argmax over full recomputation (no cache), and the margin of each step.
    seq, recompute, margins = list(prompt), [], []
    for _ in range(GREEDY_TOKENS):
        last = logits_of(model, seq, device)[-1]
        top2 = np.sort(last)[-2:]
        margins.append(float(top2[1] - top2[0]))
        nxt = int(last.argmax())
        recompute.append(nxt)
        seq.append(nxt)
    return {"prompt_ids": prompt, "ids": ids, "recompute_ids": recompute, "recompute_matches": recompute == ids,
            "top2_margins": margins}


def routing_of(model, ids, device):
    """Layer 0's MoE block on prompt ids: its input (the post-attention norm's output), the router's logits, the
    experts each token selected with their weights (as the block computes them), and the block's output."""
    moe = model.model.layers[0].mlp
    seen = {}
    h1 = moe.register_forward_hook(lambda m, a, out: seen.update(x=a[0], out=out))
    h2 = moe.gate.register_forward_hook(lambda m, a, out: seen.update(gate=out))
    logits_of(model, ids, device)
    h1.remove()
    h2.remove()
    x = seen["x"].reshape(-1, seen["x"].shape[-1]).float()
    out = seen["out"][0] if isinstance(seen["out"], tuple) else seen["out"]
    gate = seen["gate"]
    # transformers 5 routers return (logits, top-k weights, top-k ids); older ones return the logits only.
    logits = (gate[0] if isinstance(gate, tuple) else gate).reshape(x.shape[0], -1).float()
    k = model.config.num_experts_per_tok
    probs = torch.softmax(logits, dim=-1)
    w, idx = torch.topk(probs, k, dim=-1)
    if getattr(model.config, "norm_topk_prob", True):  # Mixtral always renormalises
        w = w / w.sum(dim=-1, keepdim=True)
    r = {"prompt_ids": ids, "layer": 0, "top_k": k, "input": x.cpu().tolist(), "router_logits": logits.cpu().tolist(),
         "topk_ids": idx.cpu().tolist(), "topk_weights": w.cpu().tolist(),
         "output": out.reshape(x.shape[0], -1).float().cpu().tolist()}
    if isinstance(gate, tuple) and len(gate) >= 3:  # what the model itself selected, to check the recomputation
        r["model_topk_ids"] = gate[2].reshape(x.shape[0], -1).cpu().tolist()
        r["model_topk_weights"] = gate[1].reshape(x.shape[0], -1).float().cpu().tolist()
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--only", nargs="*", default=None)
    args = ap.parse_args()
    exact_fp32()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    stamp = {"transformers": transformers.__version__, "torch": torch.__version__,
             "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
             "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    failed = []
    for name in args.only or MODELS:
        try:
            one(name, args.outdir, device, stamp)
        except Exception:  # report and go on with the other models: one device call makes them all
            traceback.print_exc()
            print(f"{name}: FAILED")
            failed.append(name)
    if failed:  # a failed model's directory may be partial: do not commit it
        sys.exit(f"failed: {', '.join(failed)}")


def one(name, outdir, device, stamp):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    model = build(name, device)
    prompts = prompts_for(name)
    blobs, meta_prompts, offset = [], [], 0
    for ids in prompts:
        lg = logits_of(model, ids, device)
        blobs.append(lg.astype("<f4").reshape(-1))
        meta_prompts.append({"ids": ids, "shape": list(lg.shape), "offset_floats": offset,
                             "argmax": lg.argmax(axis=-1).tolist()})
        offset += lg.size
    meta = {"model": name, "file": "ref_logits.f32", "dtype": "float32 little-endian",
            "layout": "prompts in order, each [position][vocab] row-major; prompt i starts at offset_floats",
            "vocab": VOCAB, "prompts": meta_prompts,
            "layer_types": getattr(model.config, "layer_types", None),
            "sliding_window": getattr(model.config, "sliding_window", None),
            "rope_parameters": getattr(model.config, "rope_parameters", None)}
    if meta["sliding_window"]:
        full = without_window(model, device)
        effect = []
        for p, ids in zip(meta_prompts, prompts):
            a = np.frombuffer(np.concatenate(blobs).tobytes(), dtype="<f4")[p["offset_floats"]:][:np.prod(p["shape"])]
            b = logits_of(full, ids, device).reshape(-1)
            effect.append(float(np.abs(a - b).max() / np.abs(a).max()))
        meta["window_effect"] = effect  # max |logit change| / max |logit| per prompt when the window is removed
        del full
    np.concatenate(blobs).tofile(os.path.join(d, "ref_logits.f32"))
    with open(os.path.join(d, "ref_logits.json"), "w") as f:
        json.dump({**meta, **stamp}, f, indent=1)
        f.write("\n")
    g = greedy(model, prompts[0], device)
    with open(os.path.join(d, "ref_greedy.json"), "w") as f:
        json.dump({"model": name, **g, **stamp}, f, indent=1)
        f.write("\n")
    if name in MOE:
        with open(os.path.join(d, "ref_routing.json"), "w") as f:
            json.dump({"model": name, **routing_of(model, prompts[1], device), **stamp}, f)
            f.write("\n")
    model.to(torch.bfloat16).save_pretrained(d)
    with open(os.path.join(d, "config.json")) as f:
        saved = json.load(f)
    from safetensors import safe_open
    with safe_open(os.path.join(d, "model.safetensors"), "pt") as st:
        names = sorted(st.keys())
    print(f"{name}: {len(names)} tensors, layer 0: {[n for n in names if '.0.' in n or 'layers.0' in n][:40]}")
    print(f"{name}: {saved['architectures'][0]} params {sum(p.numel() for p in model.parameters())} "
          f"logits {[p['shape'] for p in meta_prompts]} window_effect {meta.get('window_effect')} "
          f"layer_types {meta['layer_types']} greedy {g['ids']} recompute_matches {g['recompute_matches']} "
          f"min margin {min(g['top2_margins']):.4f}; files {sorted(os.listdir(d))}")


if __name__ == "__main__":
    main()
