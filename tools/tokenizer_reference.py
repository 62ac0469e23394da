#!/usr/bin/env python3
"""Reference token ids of the gut models' shared byte-level BPE tokenizer.json.

Usage: tokenizer_reference.py TOKENIZER_JSON GPT2_INP EVAL_TXT OUTDIR [--gpt2-dir DIR --gpt2-out FILE]

Writes into OUTDIR:
  gut_tokenizer_cases.json  {"cases": [{"text", "ids", "source"}]}: the 46 texts of llama.cpp's gpt-2.inp
                            plus extra edge cases, encoded with tokenizers encode(text, add_special_tokens=False)
  gut_eval_ids.i32          int32 little-endian, the first 65472 ids of the whole eval file (same call)
  gut_eval_ids.json         {"count", "eval_sha256", ...}

With --gpt2-dir/--gpt2-out it first checks the .inp split by re-encoding the texts with the GPT-2 vocabulary
(encoder.json + vocab.bpe) and comparing with llama.cpp's expected ids in gpt-2.out.
"""
import argparse
import datetime
import hashlib
import json
import os

import numpy as np
import tokenizers
from tokenizers import Tokenizer, models, pre_tokenizers

EVAL_IDS = 64 * 1023  # the tokens E64 scores

EXTRA = [
    "a<s>b</s>",
    "<s>",
    " <s> </s> <unk><pad>",
    "<s><s>x</s",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9, Cr\u00e8me br\u00fbl\u00e9e",
    "e\u0301 vs \u00e9",
    "\u00dcn\u00efc\u00f6d\u00e9 \u0391\u0392\u0393 \u041f\u0440\u0438\u0432\u0435\u0442 \u05e9\u05dc\u05d5\u05dd",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002\u4f60\u597d\uff0c\u4e16\u754c",
    "\U0001f44d\U0001f3fd \U0001f1eb\U0001f1f7 \U0001f600\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "12345678901234567890",
    "3.14159, 1,000,000 and 2024-11-23",
    "line one\r\nline two\r\n\r\n",
    "   leading and trailing   ",
    "tabs\t\tand\n\n\nnewlines \n",
    "don't I'll we've THEY'RE it's",
    "non\u00a0breaking\u2009thin \u2014 dash \u201cquoted\u201d",
    "\u2018Tis the season,\u2019 said Mr. O\u2019Brien.",
    "CHAPTER XII.\n\nIt was a dark and stormy night; the rain fell in torrents.",
]


def split_llama_cpp_inp(raw):
    # llama.cpp writes each test text followed by "\n__ggml_vocab_test__\n": the text itself keeps any
    # trailing newline of its own, and the final separator leaves an empty tail that is no test.
    sep = "\n__ggml_vocab_test__\n"
    parts = raw.split(sep)
    assert parts[-1] == "", "inp file does not end with the separator"
    return parts[:-1]


def check_split_with_gpt2(texts, gpt2_dir, gpt2_out):
    bpe = models.BPE.from_file(os.path.join(gpt2_dir, "encoder.json"), os.path.join(gpt2_dir, "vocab.bpe"))
    gpt2 = Tokenizer(bpe)
    gpt2.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    expected = open(gpt2_out, encoding="utf-8").read().split("\n")
    assert len(expected) >= len(texts)
    bad = [i for i, t in enumerate(texts)
           if gpt2.encode(t, add_special_tokens=False).ids != [int(v) for v in expected[i].split()]]
    print(f"gpt-2.inp split check against gpt-2.out: {len(texts) - len(bad)}/{len(texts)} match"
          + (f", mismatches at {bad}" if bad else ""))
    return len(texts) - len(bad)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tokenizer_json")
    ap.add_argument("gpt2_inp")
    ap.add_argument("eval_txt")
    ap.add_argument("outdir")
    ap.add_argument("--gpt2-dir")
    ap.add_argument("--gpt2-out")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    tok = Tokenizer.from_file(args.tokenizer_json)
    tok_bytes = open(args.tokenizer_json, "rb").read()
    texts = split_llama_cpp_inp(open(args.gpt2_inp, "rb").read().decode("utf-8"))
    assert len(texts) == 46, f"{len(texts)} texts in {args.gpt2_inp}"
    split_check = None
    if args.gpt2_dir and args.gpt2_out:
        split_check = check_split_with_gpt2(texts, args.gpt2_dir, args.gpt2_out)

    cases = []
    for i, t in enumerate(texts):
        cases.append({"text": t, "ids": tok.encode(t, add_special_tokens=False).ids, "source": f"gpt-2.inp #{i}"})
    for t in EXTRA:
        cases.append({"text": t, "ids": tok.encode(t, add_special_tokens=False).ids, "source": "extra"})
    for c in cases:  # byte-level BPE is lossless except for the special tokens, which decode() drops
        back = tok.decode(c["ids"], skip_special_tokens=False)
        if back != c["text"]:
            print(f"round trip differs: {c['text']!r} -> {back!r}")

    stamp = {
        "tokenizers": tokenizers.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    with open(os.path.join(args.outdir, "gut_tokenizer_cases.json"), "w", encoding="utf-8") as f:
        json.dump({
            "tokenizer": "tokenizer.json shared by gut-llama-27m and gut-opt-24m",
            "tokenizer_sha256": hashlib.sha256(tok_bytes).hexdigest(),
            "call": "tokenizers.Tokenizer.encode(text, add_special_tokens=False)",
            "gpt2_inp_split_check": split_check,
            **stamp,
            "cases": cases,
        }, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(cases)} tokenizer cases")

    raw = open(args.eval_txt, "rb").read()
    ids = tok.encode(raw.decode("utf-8"), add_special_tokens=False).ids
    assert len(ids) >= EVAL_IDS
    np.asarray(ids[:EVAL_IDS], dtype="<i4").tofile(os.path.join(args.outdir, "gut_eval_ids.i32"))
    with open(os.path.join(args.outdir, "gut_eval_ids.json"), "w", encoding="utf-8") as f:
        json.dump({
            "file": "gut_eval_ids.i32",
            "dtype": "int32 little-endian",
            "count": EVAL_IDS,
            "eval": "gutenberg/eval.txt",
            "eval_sha256": hashlib.sha256(raw).hexdigest(),
            "eval_bytes": len(raw),
            "eval_tokens_total": len(ids),
            "tokenizer_sha256": hashlib.sha256(tok_bytes).hexdigest(),
            "call": "tokenizers.Tokenizer.encode(whole file decoded as UTF-8, add_special_tokens=False)",
            **stamp,
        }, f, indent=1)
        f.write("\n")
    print(f"eval.txt: {len(ids)} tokens, first {EVAL_IDS} written")


if __name__ == "__main__":
    main()
