#include "quant/recipe.h"

#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tameq {

void Recipe::validate() const {
    auto bits_ok = [](int b) { return (b >= 2 && b <= 8) || b == 16; };
    if (!bits_ok(wbits)) fail("recipe", "weight bits {} out of range (2..8, or 16 for none)", wbits);
    if (!bits_ok(abits)) fail("recipe", "activation bits {} out of range (2..8, or 16 for none)", abits);
    if (!bits_ok(kvbits)) fail("recipe", "KV-cache bits {} out of range (2..8, or 16 for none)", kvbits);
    if (rotate != "none" && rotate != "ro" && rotate != "rh" && rotate != "dfrot" && rotate != "file")
        fail("recipe", "unknown rotation '{}' (valid: none, ro, rh, dfrot, file)", rotate);
    if (rotate == "file" && rotation_file.empty()) fail("recipe", "rotate=file needs a rotation file");
    if (weights != "rtn" && weights != "gptq") fail("recipe", "unknown weight quantizer '{}' (valid: rtn, gptq)", weights);
    if (method != "rtn" && method != "outliertune" && method != "smoothquant")
        fail("recipe", "unknown method '{}' (valid: rtn, outliertune, smoothquant)", method);
    if (!(sq_alpha >= 0 && sq_alpha <= 1)) fail("recipe", "alpha must be in [0, 1], got {}", sq_alpha);
    if (w_group < 0) fail("recipe", "group size must be >= 0");
    if (!(a_clip > 0 && a_clip <= 1)) fail("recipe", "a-clip must be in (0, 1], got {}", a_clip);
    if (!(kv_clip > 0 && kv_clip <= 1)) fail("recipe", "kv-clip must be in (0, 1], got {}", kv_clip);
    if (calib_windows < 1) fail("recipe", "calib-windows must be >= 1");
    if (calib_ctx < 2) fail("recipe", "calib-ctx must be >= 2");
    if (!(dfrot_gamma >= 1)) fail("recipe", "dfrot gamma must be >= 1");
    if (dfrot_iters < 0 || dfrot_windows < 1) fail("recipe", "dfrot iterations must be >= 0 and windows >= 1");
    if (dfrot_rows < 0) fail("recipe", "dfrot-rows must be >= 0 (0 = all rows), got {}", dfrot_rows);
    if (dfrot_marking != "magnitude" && dfrot_marking != "quant-error")
        fail("recipe", "unknown massive-token marking '{}' (valid: magnitude, quant-error)", dfrot_marking);
}

bool Recipe::needs_calibration() const {
    return (weights == "gptq" && wbits < 16) || rotate == "dfrot" || method != "rtn";
}

std::string Recipe::summary() const {
    std::string s = rotate != "none" ? rotate : method;
    s += " W" + std::to_string(wbits) + "A" + std::to_string(abits) + "KV" + std::to_string(kvbits);
    if (wbits < 16) s += " " + weights;
    if (w_group) s += " g" + std::to_string(w_group);
    if (keep_massive_fp) s += " massive-fp";
    if (method == "smoothquant") s += " alpha=" + std::to_string(sq_alpha).substr(0, 4);
    if (method == "outliertune" && !symmetrize) s += " unshifted";
    return s;
}

namespace {

int to_int(const std::string& key, const std::string& v) {
    try {
        size_t used = 0;
        int x = std::stoi(v, &used);
        if (used == v.size()) return x;
    } catch (...) {
    }
    fail("recipe", "'{}' needs an integer, got '{}'", key, v);
}

float to_float(const std::string& key, const std::string& v) {
    try {
        size_t used = 0;
        float x = std::stof(v, &used);
        if (used == v.size()) return x;
    } catch (...) {
    }
    fail("recipe", "'{}' needs a number, got '{}'", key, v);
}

bool to_bool(const std::string& key, const std::string& v) {
    if (v == "1" || v == "true" || v == "yes") return true;
    if (v == "0" || v == "false" || v == "no") return false;
    fail("recipe", "'{}' needs true or false, got '{}'", key, v);
}

}  // namespace

Recipe parse_recipe(const std::string& text) {
    Recipe r;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        if (eq == std::string::npos) fail("recipe", "'{}' is not key=value", item);
        const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
        if (k == "method") r.method = v;
        else if (k == "rotate") r.rotate = v;
        else if (k == "rotation-file") { r.rotate = "file"; r.rotation_file = v; }
        else if (k == "seed") r.seed = uint64_t(to_int(k, v));
        else if (k == "w" || k == "wbits") r.wbits = to_int(k, v);
        else if (k == "a" || k == "abits") r.abits = to_int(k, v);
        else if (k == "kv" || k == "kvbits") r.kvbits = to_int(k, v);
        else if (k == "weights") r.weights = v;
        else if (k == "w-asym") r.w_asym = to_bool(k, v);
        else if (k == "group") r.w_group = to_int(k, v);
        else if (k == "w-clip-search") r.w_clip_search = to_bool(k, v);
        else if (k == "act-order") r.act_order = to_bool(k, v);
        else if (k == "a-sym") r.a_sym = to_bool(k, v);
        else if (k == "a-clip") r.a_clip = to_float(k, v);
        else if (k == "kv-clip") r.kv_clip = to_float(k, v);
        else if (k == "keep-massive") r.keep_massive_fp = to_bool(k, v);
        else if (k == "calib") r.calib_file = v;
        else if (k == "calib-windows") r.calib_windows = to_int(k, v);
        else if (k == "calib-ctx") r.calib_ctx = to_int(k, v);
        else if (k == "alpha") r.sq_alpha = to_float(k, v);
        else if (k == "symmetrize") r.symmetrize = to_bool(k, v);
        else if (k == "ot-clip-search") r.ot_clip_search = to_bool(k, v);
        else if (k == "ot-fold") r.ot_fold = to_bool(k, v);
        else if (k == "gamma") r.dfrot_gamma = to_float(k, v);
        else if (k == "dfrot-iters") r.dfrot_iters = to_int(k, v);
        else if (k == "dfrot-windows") r.dfrot_windows = to_int(k, v);
        else if (k == "dfrot-rows") r.dfrot_rows = to_int(k, v);
        else if (k == "marking") r.dfrot_marking = v;
        else
            fail("recipe", "unknown key '{}' (valid: method, rotate, rotation-file, seed, w, a, kv, weights, w-asym, group, "
                           "w-clip-search, act-order, a-sym, a-clip, kv-clip, keep-massive, calib, calib-windows, calib-ctx, alpha, "
                           "symmetrize, ot-clip-search, ot-fold, gamma, dfrot-iters, dfrot-windows, dfrot-rows, marking)", k);
    }
    r.validate();
    return r;
}

void to_json(nlohmann::json& j, const Recipe& r) {
    j = {{"method", r.method}, {"rotate", r.rotate}, {"rotation_file", r.rotation_file}, {"seed", r.seed},
         {"wbits", r.wbits}, {"abits", r.abits}, {"kvbits", r.kvbits}, {"weights", r.weights}, {"w_asym", r.w_asym},
         {"w_group", r.w_group}, {"w_clip_search", r.w_clip_search}, {"act_order", r.act_order},
         {"gptq_damp", r.gptq_damp}, {"a_sym", r.a_sym}, {"a_clip", r.a_clip}, {"kv_clip", r.kv_clip}, {"keep_massive_fp", r.keep_massive_fp},
         {"calib_file", r.calib_file}, {"calib_windows", r.calib_windows}, {"calib_ctx", r.calib_ctx},
         {"sq_alpha", r.sq_alpha}, {"symmetrize", r.symmetrize}, {"ot_clip_search", r.ot_clip_search},
         {"ot_fold", r.ot_fold}, {"dfrot_gamma", r.dfrot_gamma}, {"dfrot_iters", r.dfrot_iters}, {"dfrot_windows", r.dfrot_windows},
         {"dfrot_rows", r.dfrot_rows}, {"dfrot_marking", r.dfrot_marking}};
}

void from_json(const nlohmann::json& j, Recipe& r) {
    Recipe d;
    auto get = [&](const char* k, auto& field) {
        if (j.contains(k)) j.at(k).get_to(field);
    };
    r = d;
    get("method", r.method); get("rotate", r.rotate); get("rotation_file", r.rotation_file); get("seed", r.seed);
    get("wbits", r.wbits); get("abits", r.abits); get("kvbits", r.kvbits); get("weights", r.weights);
    get("w_asym", r.w_asym); get("w_group", r.w_group); get("w_clip_search", r.w_clip_search);
    get("act_order", r.act_order); get("gptq_damp", r.gptq_damp); get("a_sym", r.a_sym); get("a_clip", r.a_clip);
    get("kv_clip", r.kv_clip); get("keep_massive_fp", r.keep_massive_fp); get("calib_file", r.calib_file); get("calib_windows", r.calib_windows);
    get("calib_ctx", r.calib_ctx); get("sq_alpha", r.sq_alpha); get("symmetrize", r.symmetrize);
    get("ot_clip_search", r.ot_clip_search); get("ot_fold", r.ot_fold); get("dfrot_gamma", r.dfrot_gamma); get("dfrot_iters", r.dfrot_iters);
    get("dfrot_windows", r.dfrot_windows); get("dfrot_rows", r.dfrot_rows); get("dfrot_marking", r.dfrot_marking);
}

}  // namespace tameq
