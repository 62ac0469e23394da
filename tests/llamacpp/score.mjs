// Scores a GGUF file with llama.cpp itself (its prebuilt CPU library through node-llama-cpp), on token windows
// that tameq wrote (`tameq eval ppl ... --save-windows W.json`), so both engines score the same ids:
//   node score.mjs --model F.gguf --windows W.json [--ref REF.gguf [--ref-cache R.json]] [--kl-windows N] [--threads 2]
// (greedy continuations: bench/llamacpp/bench.mjs --greedy TEXT)
// Scoring follows E64: every position of a window but the last predicts the next id (the first id, BOS, is
// never a target). Prints one JSON line: ppl and nll_mean (and with --ref: the reference's ppl, top-1
// agreement of the argmax on every scored position, and KL(ref ‖ model) in nats per token over the first N
// windows, from llama.cpp's full logits — the slow part, hence its own count). node-llama-cpp comes from
// build/llamacpp/ (scripts/install-llamacpp.sh) or $LLAMACPP_DIR. --ref-cache keeps the reference's NLL and argmax
// ids of these windows, so several models compared with one reference score it once (KL still needs its logits).
import { parseArgs } from "node:util";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = process.env.LLAMACPP_DIR ?? path.join(here, "../../build/llamacpp");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(path.join(dir, "node_modules/node-llama-cpp/dist/index.js")));

const { values: a } = parseArgs({
    options: {
        model: { type: "string" }, windows: { type: "string" }, ref: { type: "string" }, "ref-cache": { type: "string" },
        "kl-windows": { type: "string", default: "0" }, threads: { type: "string", default: "2" },
    },
});
const threads = Number(a.threads);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });

async function open(file, ctx) {
    const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    const context = await model.createContext({
        contextSize: ctx, batchSize: ctx, sequences: 1, threads: { ideal: threads, min: threads }, flashAttention: false,
    });
    return { model, seq: context.getSequence() };
}

const windows = JSON.parse(readFileSync(a.windows, "utf8"));
const longest = Math.max(...windows.map((w) => w.length));
const subject = await open(a.model, longest);
const klWindows = a.ref ? Math.min(Number(a["kl-windows"]), windows.length) : 0;
const cache = a["ref-cache"] && existsSync(a["ref-cache"]) ? JSON.parse(readFileSync(a["ref-cache"], "utf8")) : null;
if (cache && (cache.ref !== a.ref || cache.windows !== a.windows)) throw new Error(`${a["ref-cache"]}: made for another reference or windows`);
const ref = a.ref && (!cache || klWindows > 0) ? await open(a.ref, longest) : null;
const refArgmax = cache ? cache.argmax : [], refLogp = cache ? cache.logp : [];

// Per scored position: log p(target) and the argmax id. Only the target's logit, the max logit and
// Σ exp(logit − max) cross into JavaScript.
async function score(seq, ids) {
    await seq.clearHistory();
    const items = ids.map((t, i) => (i + 1 < ids.length
        ? [t, { generateNext: { logits: { filter: { tokens: [ids[i + 1]], includeTop: 1 } }, totalLogitWeight: true } }]
        : t));
    const res = await seq.controlledEvaluate(items);
    const logp = [], argmax = [];
    for (let i = 0; i + 1 < ids.length; ++i) {
        const { logits, totalLogitWeight } = res[i].next;
        const [top, max] = logits.entries().next().value;
        logp.push(logits.get(ids[i + 1]) - max - Math.log(totalLogitWeight));
        argmax.push(top);
    }
    return { logp, argmax };
}

// Full log-softmax rows, for KL.
async function logSoftmaxRows(seq, ids, vocab) {
    await seq.clearHistory();
    const items = ids.map((t, i) => (i + 1 < ids.length ? [t, { generateNext: { logits: true } }] : t));
    const res = await seq.controlledEvaluate(items);
    const rows = [];
    for (let i = 0; i + 1 < ids.length; ++i) {
        const row = new Float64Array(vocab);
        let max = -Infinity;
        for (const [tok, v] of res[i].next.logits) { row[tok] = v; if (v > max) max = v; }
        let sum = 0;
        for (let k = 0; k < vocab; ++k) sum += Math.exp(row[k] - max);
        const lse = max + Math.log(sum);
        for (let k = 0; k < vocab; ++k) row[k] -= lse;
        rows.push(row);
    }
    return rows;
}

let nll = 0, refNll = 0, n = 0, agree = 0, kl = 0, klTokens = 0;
for (let w = 0; w < windows.length; ++w) {
    const s = await score(subject.seq, windows[w]);
    for (const lp of s.logp) nll -= lp;
    n += s.logp.length;
    if (a.ref) {
        if (!cache) {
            const r = await score(ref.seq, windows[w]);
            refArgmax.push(r.argmax);
            refLogp.push(r.logp);
        }
        for (const lp of refLogp[w]) refNll -= lp;
        for (let i = 0; i < s.argmax.length; ++i) agree += s.argmax[i] === refArgmax[w][i] ? 1 : 0;
        if (w < klWindows) {
            const vocab = subject.model.tokens.vocabularySize ?? subject.model.fileInfo.metadata.llama.vocab_size;
            const p = await logSoftmaxRows(ref.seq, windows[w], vocab), q = await logSoftmaxRows(subject.seq, windows[w], vocab);
            for (let i = 0; i < p.length; ++i) {
                let d = 0;
                for (let k = 0; k < vocab; ++k) d += Math.exp(p[i][k]) * (p[i][k] - q[i][k]);
                kl += d;
            }
            klTokens += p.length;
        }
    }
    process.stderr.write(`\rllama.cpp ${w + 1}/${windows.length} windows, PPL ${Math.exp(nll / n).toFixed(4)}`);
}
process.stderr.write("\n");
if (a.ref && a["ref-cache"] && !cache) {
    writeFileSync(a["ref-cache"] + ".tmp", JSON.stringify({ ref: a.ref, windows: a.windows, argmax: refArgmax, logp: refLogp }));
    renameSync(a["ref-cache"] + ".tmp", a["ref-cache"]);
}
const out = { engine: "llama.cpp", model: a.model, windows: windows.length, tokens_scored: n, nll_mean: nll / n, ppl: Math.exp(nll / n) };
if (a.ref) Object.assign(out, {
    ref: a.ref, ref_ppl: Math.exp(refNll / n), top1_agree: agree / n,
    ...(klTokens ? { kl_mean: kl / klTokens, kl_windows: klWindows, kl_tokens: klTokens } : {}),
});
console.log(JSON.stringify(out));
process.exit(0);
