#include "common/stage_profile.h"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace tameq {

namespace {

thread_local StageProfile* current = nullptr;

double seconds_of(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::string cell_text(const StageProfile::Cell& c) {
    if (c.wall <= 0) return "-";
    return fmt::format("{:.2f} ({:.2f})", c.wall, c.cpu / c.wall);
}

}  // namespace

void set_thread_profile(StageProfile* p) { current = p; }
StageProfile* thread_profile() { return current; }

void StageProfile::charge() {
    const double wall = seconds_of(CLOCK_MONOTONIC), cpu = seconds_of(CLOCK_PROCESS_CPUTIME_ID);
    if (!open_.empty()) {
        Cell& c = cells_[{layer_, open_.back()}];
        c.wall += wall - last_wall_;
        c.cpu += cpu - last_cpu_;
    }
    last_wall_ = wall;
    last_cpu_ = cpu;
}

void StageProfile::set_layer(int layer) {
    charge();
    layer_ = layer;
}

void StageProfile::enter(const char* stage) {
    charge();
    auto it = std::find(stages_.begin(), stages_.end(), stage);
    if (it == stages_.end()) it = stages_.insert(stages_.end(), stage);
    open_.push_back(int(it - stages_.begin()));
}

void StageProfile::leave() {
    charge();
    if (!open_.empty()) open_.pop_back();
}

StageProfile::Cell StageProfile::total(const std::string& stage) const {
    Cell t;
    auto it = std::find(stages_.begin(), stages_.end(), stage);
    if (it == stages_.end()) return t;
    const int s = int(it - stages_.begin());
    for (const auto& [key, c] : cells_)
        if (key.second == s) {
            t.wall += c.wall;
            t.cpu += c.cpu;
        }
    return t;
}

std::string StageProfile::table() const {
    int layers = 0;
    for (const auto& [key, c] : cells_) layers = std::max(layers, key.first + 1);
    std::string out = fmt::format("{:<20}", "stage: wall s (cores)");
    for (int l = 0; l < layers; ++l) out += fmt::format(" {:>14}", fmt::format("layer {}", l));
    out += fmt::format(" {:>14} {:>14}\n", "outside layers", "total");
    std::vector<Cell> per_layer(size_t(layers) + 1);  // last: outside
    Cell all;
    for (size_t s = 0; s < stages_.size(); ++s) {
        out += fmt::format("{:<20}", stages_[s]);
        for (int l = -1; l < layers; ++l) {
            auto it = cells_.find({l, int(s)});
            const Cell c = it == cells_.end() ? Cell{} : it->second;
            Cell& col = per_layer[l < 0 ? size_t(layers) : size_t(l)];
            col.wall += c.wall;
            col.cpu += c.cpu;
            if (l >= 0) out += fmt::format(" {:>14}", cell_text(c));
        }
        auto it = cells_.find({-1, int(s)});
        out += fmt::format(" {:>14}", cell_text(it == cells_.end() ? Cell{} : it->second));
        const Cell t = total(stages_[s]);
        all.wall += t.wall;
        all.cpu += t.cpu;
        out += fmt::format(" {:>14}\n", cell_text(t));
    }
    out += fmt::format("{:<20}", "total");
    for (int l = 0; l < layers; ++l) out += fmt::format(" {:>14}", cell_text(per_layer[size_t(l)]));
    out += fmt::format(" {:>14} {:>14}\n", cell_text(per_layer[size_t(layers)]), cell_text(all));
    return out;
}

}  // namespace tameq
