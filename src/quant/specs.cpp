#include "quant/specs.h"

namespace tameq {

QuantSpec weight_spec(const Recipe& r) {
    QuantSpec s;
    s.bits = r.wbits;
    s.symmetric = !r.w_asym;
    s.narrow = r.w_narrow;
    s.granularity = r.w_group > 0 ? Granularity::PerGroup : Granularity::PerRow;
    s.group_size = r.w_group;
    s.mse_search = r.w_clip_search;
    return s;
}

QuantSpec per_token_spec(int bits, bool symmetric, float clip_ratio) {
    QuantSpec s;
    s.bits = bits;
    s.symmetric = symmetric;
    s.granularity = Granularity::PerRow;
    s.clip_ratio = clip_ratio;
    return s;
}

QuantSpec act_spec(const Recipe& r) { return per_token_spec(r.abits, r.a_sym, r.a_clip); }

QuantSpec static_act_spec(const Recipe& r) {
    QuantSpec s;
    s.bits = r.abits;
    s.symmetric = true;
    return s;
}

QuantSpec kv_spec(const Recipe& r) { return per_token_spec(r.kvbits, false, r.kv_clip); }

QuantSpec dfrot_act_spec(const Recipe& r) { return per_token_spec(r.abits < 16 ? r.abits : 4, r.a_sym, r.a_clip); }

DfrotRowsOptions dfrot_rows_options(const Recipe& r, const ModelConfig& cfg) {
    DfrotRowsOptions o;
    o.family = cfg.family;
    o.eps = cfg.norm_eps;
    o.marking = r.dfrot_marking;
    o.act = dfrot_act_spec(r);
    return o;
}

DfrotR1Options dfrot_r1_options(const Recipe& r) {
    return {.gamma = r.dfrot_gamma, .iterations = r.dfrot_iters, .sample_rows = r.dfrot_rows, .seed = r.seed,
            .act = dfrot_act_spec(r)};
}

}  // namespace tameq
