#include "quant/recipe.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <type_traits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"

namespace tameq {
namespace {

template <class T> constexpr bool is_choice_v = requires { ChoiceNames<T>::names; };

std::string join(const std::string_view* items, size_t n, std::string_view sep) {
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        if (i) s += sep;
        s += items[i];
    }
    return s;
}

int to_int(std::string_view key, const std::string& v) {
    try {
        size_t used = 0;
        const int x = std::stoi(v, &used);
        if (used == v.size()) return x;
    } catch (...) {
    }
    fail("recipe", "'{}' needs an integer, got '{}'", key, v);
}

uint64_t to_uint64(std::string_view key, const std::string& v) {
    // stoull would take "-1" as 2^64 - 1.
    if (!v.empty() && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) try {
            return std::stoull(v);
        } catch (...) {
        }
    fail("recipe", "'{}' needs a non-negative integer, got '{}'", key, v);
}

float to_float(std::string_view key, const std::string& v) {
    try {
        size_t used = 0;
        const float x = std::stof(v, &used);
        if (used == v.size()) return x;
    } catch (...) {
    }
    fail("recipe", "'{}' needs a number, got '{}'", key, v);
}

bool to_bool(std::string_view key, const std::string& v) {
    if (v == "1" || v == "true" || v == "yes") return true;
    if (v == "0" || v == "false" || v == "no") return false;
    fail("recipe", "'{}' needs true or false, got '{}'", key, v);
}

bool is_integer_kind(const RecipeKey& k) { return std::holds_alternative<int Recipe::*>(k.field); }

bool in_range(const KeyRange& g, double v) {
    const bool inside = (g.lo_open ? v > g.lo : v >= g.lo) && v <= g.hi;  // false for NaN
    return inside || (g.also && v == *g.also);
}

}  // namespace

std::string recipe_key_range(const RecipeKey& k) {
    if (!k.range) return "";
    const KeyRange& g = *k.range;
    std::string s;
    if (std::isinf(g.hi)) s = fmt::format("{} {}", g.lo_open ? ">" : ">=", g.lo);
    else if (is_integer_kind(k) && !g.lo_open) s = fmt::format("{}..{}", g.lo, g.hi);
    else s = fmt::format("{}{}, {}]", g.lo_open ? "(" : "[", g.lo, g.hi);
    if (g.also) s += fmt::format(" or {}", *g.also);
    return s;
}

size_t find_choice(std::string_view noun, const std::string_view* names, size_t n, std::string_view text) {
    for (size_t i = 0; i < n; ++i)
        if (names[i] == text) return i;
    fail("recipe", "unknown {} '{}' (valid: {})", noun, text, join(names, n, ", "));
}

std::vector<std::string> model_rotation_names() {
    std::vector<std::string> names;
    for (Rotation r : kModelRotations) names.emplace_back(choice_name(r));
    return names;
}

std::string r4_text(R4Choice c) {
    if (c.block == R4Choice::kFull) return "full";
    if (c.block == R4Choice::kNone) return "none";
    return fmt::format("block={}", c.block);
}

R4Choice parse_r4(std::string_view key, const std::string& text) {
    if (text == "full") return {R4Choice::kFull};
    if (text == "none") return {R4Choice::kNone};
    if (text.starts_with("block=")) {
        const int b = to_int(key, text.substr(6));
        if (b < 2 || (b & (b - 1))) fail("recipe", "'{}' block size must be a power of two >= 2, got {}", key, b);
        return {b};
    }
    fail("recipe", "'{}' needs full, none or block=B (B a power of two, e.g. block=128), got '{}'", key, text);
}

const RecipeKey* find_recipe_key(std::string_view name) {
    for (const RecipeKey& k : kRecipeKeys)
        if (k.key == name || (!k.alias.empty() && k.alias == name)) return &k;
    return nullptr;
}

void set_recipe_key(Recipe& r, const RecipeKey& k, const std::string& value) {
    std::visit(
        [&](auto Recipe::* field) {
            auto& dst = r.*field;
            using T = std::remove_reference_t<decltype(dst)>;
            if constexpr (std::is_same_v<T, int>) dst = to_int(k.key, value);
            else if constexpr (std::is_same_v<T, float>) dst = to_float(k.key, value);
            else if constexpr (std::is_same_v<T, bool>) dst = to_bool(k.key, value);
            else if constexpr (std::is_same_v<T, uint64_t>) dst = to_uint64(k.key, value);
            else if constexpr (std::is_same_v<T, std::string>) dst = value;
            else if constexpr (std::is_same_v<T, R4Choice>) dst = parse_r4(k.key, value);
            else dst = parse_choice<T>(value);
        },
        k.field);
    if (k.then) k.then(r);
}

std::string recipe_key_value(const Recipe& r, const RecipeKey& k) {
    return std::visit(
        [&](auto Recipe::* field) -> std::string {
            const auto& v = r.*field;
            using T = std::remove_cvref_t<decltype(v)>;
            if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
            else if constexpr (std::is_same_v<T, std::string>) return v;
            else if constexpr (std::is_same_v<T, R4Choice>) return r4_text(v);
            else if constexpr (is_choice_v<T>) return std::string(choice_name(v));
            else return fmt::format("{}", v);  // floats: the shortest text that reads back as the same float
        },
        k.field);
}

std::string recipe_key_kind(const RecipeKey& k) {
    return std::visit(
        [](auto Recipe::* field) -> std::string {
            using T = std::remove_cvref_t<decltype(Recipe{}.*field)>;
            if constexpr (std::is_same_v<T, int>) return "int";
            else if constexpr (std::is_same_v<T, float>) return "float";
            else if constexpr (std::is_same_v<T, bool>) return "bool";
            else if constexpr (std::is_same_v<T, uint64_t>) return "uint64";
            else if constexpr (std::is_same_v<T, std::string>) return "text";
            else if constexpr (std::is_same_v<T, R4Choice>) return "{full,none,block=B}";
            else return fmt::format("{{{}}}", join(ChoiceNames<T>::names.data(), ChoiceNames<T>::names.size(), ","));
        },
        k.field);
}

void Recipe::validate() const {
    for (const RecipeKey& k : kRecipeKeys) {
        if (!k.range) continue;
        const double v = std::visit(
            [&](auto Recipe::* field) -> double {
                using T = std::remove_cvref_t<decltype(this->*field)>;
                if constexpr (std::is_same_v<T, int> || std::is_same_v<T, float>) return double(this->*field);
                else return 0.0;  // only int and float keys have ranges (see the static_assert below)
            },
            k.field);
        if (!in_range(*k.range, v)) fail("recipe", "{}={} is out of range ({})", k.key, recipe_key_value(*this, k), recipe_key_range(k));
    }
    if (rotate == Rotation::File && rotation_file.empty()) fail("recipe", "rotate=file needs a rotation file");
    // Asymmetric 8-bit codes run 0..255, which the simulated weights' int8 codes (model/fake_quant.h) cannot
    // hold: codes from 128 up would wrap and dequantize to wrong values. Refused until the codes widen.
    if (w_asym && wbits == 8) fail("recipe", "w-asym with w=8 is not supported (codes 0..255 do not fit int8); use w=8 symmetric or w<=7");
    if (w_narrow && w_asym) fail("recipe", "w-narrow restricts symmetric grids; it cannot be combined with w-asym");
    if (rotate == Rotation::None && (r4 != R4Choice{} || r3 != OnlineR3::On))
        fail("recipe", "{} needs a rotation (rotate=ro|rh|dfrot|file|inner): online Hadamards exist only in rotation recipes",
             r4 != R4Choice{} ? "r4=" + r4_text(r4) : std::string("r3=") + std::string(choice_name(r3)));
    if (method == Method::OtSearch) {
        if (search_alpha_min > search_alpha_max)
            fail("recipe", "alpha-min={} is above alpha-max={}", search_alpha_min, search_alpha_max);
        if (abits > 8) fail("recipe", "method=ot-search chooses static activation codes: it needs a=2..8, got a={}", abits);
    }
    if (!rotation_file.empty() && rotate != Rotation::File)
        fail("recipe", "rotation-file {} needs rotate=file, got rotate={}", rotation_file, choice_name(rotate));
}

namespace {
// Ranges only on numeric keys, and no spelling used twice: a table edit that breaks either fails to compile.
constexpr bool table_is_consistent() {
    for (const RecipeKey& k : kRecipeKeys) {
        if (k.range && !std::holds_alternative<int Recipe::*>(k.field) && !std::holds_alternative<float Recipe::*>(k.field))
            return false;
        for (const RecipeKey& o : kRecipeKeys) {
            if (&o == &k) continue;
            if (o.key == k.key || o.json == k.json || o.key == k.alias || (!k.alias.empty() && o.alias == k.alias)) return false;
        }
    }
    return true;
}
static_assert(table_is_consistent());
}  // namespace

bool Recipe::needs_calibration() const {
    return (weights == WeightQuantizer::Gptq && wbits < 16) || rotate == Rotation::DFRot || method != Method::Rtn;
}

std::string Recipe::summary() const {
    std::string s(rotate != Rotation::None ? choice_name(rotate) : choice_name(method));
    s += " W" + std::to_string(wbits) + "A" + std::to_string(abits) + "KV" + std::to_string(kvbits);
    if (wbits < 16) s += fmt::format(" {}", choice_name(weights));
    if (w_group) s += " g" + std::to_string(w_group);
    if (r4 != R4Choice{}) s += " r4=" + r4_text(r4);
    if (r3 != OnlineR3::On) s += " r3=none";
    if (keep_massive_fp) s += " massive-fp";
    if (method == Method::SmoothQuant) s += " alpha=" + std::to_string(sq_alpha).substr(0, 4);
    if ((method == Method::OutlierTune || method == Method::OtSearch) && !symmetrize) s += " unshifted";
    return s;
}

std::vector<const RecipeKey*> apply_recipe_text(Recipe& r, const std::string& text) {
    std::vector<const RecipeKey*> set;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        if (eq == std::string::npos) fail("recipe", "'{}' is not key=value", item);
        const std::string name = item.substr(0, eq);
        const RecipeKey* k = find_recipe_key(name);
        if (!k) {
            std::vector<std::string_view> keys;
            for (const RecipeKey& key : kRecipeKeys) keys.push_back(key.key);
            fail("recipe", "unknown key '{}' (valid: {})", name, join(keys.data(), keys.size(), ", "));
        }
        if (std::find(set.begin(), set.end(), k) != set.end()) fail("recipe", "'{}' is given twice", k->key);
        set_recipe_key(r, *k, item.substr(eq + 1));
        set.push_back(k);
    }
    return set;
}

namespace {
// r4=full and r3=on are the defaults, which validate() cannot tell from unset: said explicitly on a recipe
// without rotation they would do nothing, so they fail like any other value there.
void refuse_online_keys_without_rotation(const Recipe& r, const std::vector<const RecipeKey*>& set) {
    if (r.rotate != Rotation::None) return;
    for (const RecipeKey* k : set)
        if (k->key == "r4" || k->key == "r3")
            fail("recipe", "{}={} needs a rotation (rotate=ro|rh|dfrot|file|inner): online Hadamards exist only in rotation recipes",
                 k->key, recipe_key_value(r, *k));
}
}  // namespace

Recipe parse_recipe(const std::string& text) {
    Recipe r;
    const auto set = apply_recipe_text(r, text);
    r.validate();
    refuse_online_keys_without_rotation(r, set);
    return r;
}

Recipe compose_recipe(const std::string& text, const std::vector<std::pair<const RecipeKey*, std::string>>& overrides) {
    Recipe r;
    const std::vector<const RecipeKey*> from_text = apply_recipe_text(r, text);
    std::vector<const RecipeKey*> from_flags;
    for (const auto& [k, value] : overrides) {
        if (std::find(from_text.begin(), from_text.end(), k) != from_text.end())
            fail("recipe", "'{}' is given both in --recipe and as a flag (--{}{}{})", k->key, k->key, k->alias.empty() ? "" : " or --",
                 k->alias);
        if (std::find(from_flags.begin(), from_flags.end(), k) != from_flags.end()) fail("recipe", "'{}' is given twice", k->key);
        set_recipe_key(r, *k, value);
        from_flags.push_back(k);
    }
    r.validate();
    from_flags.insert(from_flags.end(), from_text.begin(), from_text.end());
    refuse_online_keys_without_rotation(r, from_flags);
    return r;
}

void to_json(nlohmann::json& j, const Recipe& r) {
    j = nlohmann::json::object();
    for (const RecipeKey& k : kRecipeKeys)
        std::visit(
            [&](auto Recipe::* field) {
                const auto& v = r.*field;
                using T = std::remove_cvref_t<decltype(v)>;
                if constexpr (is_choice_v<T>) j[std::string(k.json)] = std::string(choice_name(v));
                else if constexpr (std::is_same_v<T, R4Choice>) j[std::string(k.json)] = r4_text(v);
                else j[std::string(k.json)] = v;
            },
            k.field);
}

void from_json(const nlohmann::json& j, Recipe& r) {
    r = Recipe{};
    for (const RecipeKey& k : kRecipeKeys) {
        const std::string name(k.json);
        if (!j.contains(name)) continue;
        std::visit(
            [&](auto Recipe::* field) {
                auto& dst = r.*field;
                using T = std::remove_reference_t<decltype(dst)>;
                if constexpr (is_choice_v<T>) dst = parse_choice<T>(j.at(name).get<std::string>());
                else if constexpr (std::is_same_v<T, R4Choice>) dst = parse_r4(k.key, j.at(name).get<std::string>());
                else j.at(name).get_to(dst);
            },
            k.field);
    }
}

}  // namespace tameq
