// One table from scripts/bench-llamacpp.sh's JSON results: node table.mjs RESULTS_DIR NAME
import fs from "node:fs";
import path from "node:path";

const [dir, name] = process.argv.slice(2);
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
const rows = [];
for (const cfg of ["fp32", "w8a8", "w4a8", "w4a4"]) {
    const j = read(`${name}-tameq-${cfg}.json`).benchmarks;
    const get = (kind) => j.find((b) => b.name.startsWith(`E2E_${kind}/`));
    const p = get("Prefill"), d = get("Decode");
    rows.push({ engine: "tameq", cfg, prefill: p["tokens/s"], decode: d["tokens/s"],
                rss: Math.max(p.peak_rss_MB, d.peak_rss_MB) });
}
for (const t of ["f32", "q8_0", "q4_0"]) {
    const j = read(`${name}-llamacpp-${t}.json`);
    rows.push({ engine: "llama.cpp", cfg: t, prefill: j.prefill_tok_s, decode: j.decode_tok_s, rss: j.peak_rss_mb });
}
const base = rows[0];
const byCfg = Object.fromEntries(rows.map((r) => [r.cfg, r]));
// Each quantized tameq recipe against the llama.cpp type of the same weight width.
const peer = { fp32: "f32", w8a8: "q8_0", w4a8: "q4_0", w4a4: "q4_0" };
const f = (x, d = 1) => x.toFixed(d).padStart(9);
console.log(`\n${name} (${path.basename(dir)})`);
console.log("engine     config  prefill tok/s  x fp32   decode tok/s  x fp32  peak RSS MB   prefill vs llama.cpp  decode vs llama.cpp");
for (const r of rows) {
    const p = r.engine === "tameq" ? byCfg[peer[r.cfg]] : null;
    console.log(`${r.engine.padEnd(10)} ${r.cfg.padEnd(6)} ${f(r.prefill)}     ${f(r.prefill / base.prefill, 2)}  ${f(r.decode)}    ${f(r.decode / base.decode, 2)}  ${f(r.rss, 0)}` +
                (p ? `   ${f(r.prefill / p.prefill, 2)} (${p.cfg})     ${f(r.decode / p.decode, 2)} (${p.cfg})` : ""));
}
