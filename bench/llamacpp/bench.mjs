// llama.cpp (prebuilt, through node-llama-cpp) on a GGUF file: prefill and decode tokens/s and peak RSS,
// with the same protocol as bench/bench_e2e.cpp (random token ids, CPU only, fixed thread count).
//   node bench.mjs --model F.gguf [--vocab V] [--prompt 512] [--gen 128] [--threads 2] [--reps 3]
//   node bench.mjs --model F.gguf --greedy "text" [--gen 32]   (greedy continuation, for correctness checks)
// Prints one JSON line. node-llama-cpp comes from build/llamacpp/ (scripts/install-llamacpp.sh) or $LLAMACPP_DIR.
import { parseArgs } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = process.env.LLAMACPP_DIR ?? path.join(here, "../../build/llamacpp");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(path.join(dir, "node_modules/node-llama-cpp/dist/index.js")));

const { values: a } = parseArgs({
    options: {
        model: { type: "string" }, vocab: { type: "string", default: "0" }, prompt: { type: "string", default: "512" },
        gen: { type: "string", default: "128" }, threads: { type: "string", default: "2" },
        reps: { type: "string", default: "3" }, greedy: { type: "string" },
    },
});
const nPrompt = Number(a.prompt), nGen = Number(a.gen), threads = Number(a.threads), reps = Number(a.reps);

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads });
const model = await llama.loadModel({ modelPath: a.model, gpuLayers: 0 });
const context = await model.createContext({
    contextSize: nPrompt + nGen + 16, batchSize: nPrompt, sequences: 1, threads: { ideal: threads, min: threads },
    flashAttention: false,
});
const seq = context.getSequence();

// Tokens [bos, ...] then n greedy steps; returns the generated ids.
async function greedy(ids, n) {
    const out = [];
    for await (const t of seq.evaluate(ids, { temperature: 0 })) {
        out.push(t);
        if (out.length === n) break;
    }
    return out;
}

if (a.greedy !== undefined) {
    const ids = [model.tokens.bos, ...model.tokenize(a.greedy)];
    const out = await greedy(ids, nGen);
    console.log(JSON.stringify({ prompt_ids: ids, ids: out, text: model.detokenize(out) }));
    process.exit(0);
}

// A fixed pseudo-random prompt (ids past the 4 specials), the same on every run.
let s = 12345;
const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
const vocab = Number(a.vocab) || model.fileInfo.metadata.llama.vocab_size;
const tokens = Array.from({ length: nPrompt }, () => 4 + (rand() % (vocab - 4)));

let bestPrefill = Infinity, bestDecode = Infinity;
for (let r = 0; r < reps; ++r) {
    await seq.clearHistory();
    let t0 = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(tokens);
    bestPrefill = Math.min(bestPrefill, (performance.now() - t0) / 1e3);
    // Decode: one token per step after the prompt, as a chat would (greedy, logits of the last row only).
    const next = [tokens[nPrompt - 1]];
    t0 = performance.now();
    await greedy(next, nGen);
    bestDecode = Math.min(bestDecode, (performance.now() - t0) / 1e3);
}
console.log(JSON.stringify({
    engine: "llama.cpp", model: a.model, threads, prompt: nPrompt, gen: nGen,
    prefill_tok_s: nPrompt / bestPrefill, decode_tok_s: nGen / bestDecode,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
}));
process.exit(0);
