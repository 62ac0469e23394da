#!/usr/bin/env python3
"""Hugging Face transformers' BF16 speed on the shapes of tameq's CUDA benchmark (bench/bench_cuda_engine.cpp).

Usage: hf_speed.py [--layers 4] [--attn sdpa]

A random-weight LlamaForCausalLM with Llama-2-7B's shapes (hidden 4096, 32 heads, MLP 11008, vocabulary 32000)
and --layers layers, in bfloat16 on the GPU, attention by --attn (transformers' SDPA by default). Measures what
CudaPrefill and CudaDecode measure: one prefill forward of 512 and of 2048 tokens keeping the last row's logits,
and 64 single-token steps through the KV cache after a 512-token prompt; host-timed after
torch.cuda.synchronize(), median of 5 after one warm-up. Speed does not depend on the weights' values.
Prints one JSON line per measurement.
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM


def timed(fn, reps=5):
    fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return statistics.median(out), statistics.pstdev(out) / statistics.mean(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--attn", default="sdpa")
    a = ap.parse_args()
    cfg = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_attention_heads=32, num_key_value_heads=32,
                      num_hidden_layers=a.layers, vocab_size=32000, max_position_embeddings=4096,
                      torch_dtype=torch.bfloat16, attn_implementation=a.attn)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16).eval()
    info = {"transformers": transformers.__version__, "torch": torch.__version__, "attn": a.attn,
            "layers": a.layers, "gpu": torch.cuda.get_device_name(0)}
    print(json.dumps(info), flush=True)
    # The keyword that keeps only the last row's logits (num_logits_to_keep before transformers 4.50).
    import inspect
    keep = "logits_to_keep" if "logits_to_keep" in inspect.signature(model.forward).parameters else "num_logits_to_keep"
    with torch.inference_mode():
        for n in (512, 2048):
            ids = (4 + (torch.arange(n, device="cuda") * 7919) % 31000).unsqueeze(0)
            med, cv = timed(lambda: model(ids, use_cache=True, **{keep: 1}))
            print(json.dumps({"what": "prefill", "tokens": n, "ms": med * 1e3, "cv": cv, "tokens_per_s": n / med}),
                  flush=True)
        prompt = (4 + (torch.arange(512, device="cuda") * 7919) % 31000).unsqueeze(0)
        steps = (4 + (torch.arange(512, 576, device="cuda") * 7919) % 31000).unsqueeze(0)

        def decode():
            out = model(prompt, use_cache=True, **{keep: 1})
            past = out.past_key_values
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for i in range(64):
                out = model(steps[:, i:i + 1], past_key_values=past, use_cache=True)
                past = out.past_key_values
            torch.cuda.synchronize()
            return time.perf_counter() - t0

        decode()
        times = [decode() for _ in range(5)]
        med = statistics.median(times)
        print(json.dumps({"what": "decode", "steps": 64, "after": 512, "ms": med * 1e3,
                          "cv": statistics.pstdev(times) / statistics.mean(times), "tokens_per_s": 64 / med}),
              flush=True)


if __name__ == "__main__":
    main()
