#pragma once
// Wall and CPU time per (layer, stage) of a long run such as `tameq quantize --profile`: the code marks
// stages with a ProfileScope; time is charged to the innermost open scope only (a statistics tap inside the
// calibration forward counts as statistics, not twice). CPU time is the whole process's, so worker threads
// (BLAS, the kernel pool) count in the stage the marking thread is in, and CPU / wall is the cores used.
// Marking is per thread: scopes opened on a thread without an active profile cost a thread-local read.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tameq {

class StageProfile {
public:
    struct Cell {
        double wall = 0, cpu = 0;
    };
    // Layer that later time is charged to; -1 (the start): outside the layer loop.
    void set_layer(int layer);
    // Per stage (in order of first use): one column per layer, the time outside layers and the total.
    std::string table() const;
    Cell total(const std::string& stage) const;  // over every layer and outside
    const std::vector<std::string>& stages() const { return stages_; }

    void enter(const char* stage);
    void leave();

private:
    void charge();
    std::vector<std::string> stages_;
    std::map<std::pair<int, int>, Cell> cells_;  // (layer, stage index)
    std::vector<int> open_;                      // stage indices of the open scopes, innermost last
    int layer_ = -1;
    double last_wall_ = 0, last_cpu_ = 0;
};

// The profile that ProfileScopes on this thread charge (null: none, the default).
void set_thread_profile(StageProfile* p);
StageProfile* thread_profile();

class ProfileScope {
public:
    explicit ProfileScope(const char* stage) : p_(thread_profile()) {
        if (p_) p_->enter(stage);
    }
    ~ProfileScope() {
        if (p_) p_->leave();
    }
    // Closes this scope's stage and opens `stage` in its place (a run of stages without nested braces).
    void next(const char* stage) {
        if (p_) {
            p_->leave();
            p_->enter(stage);
        }
    }
    ProfileScope(const ProfileScope&) = delete;
    ProfileScope& operator=(const ProfileScope&) = delete;

private:
    StageProfile* p_;
};

// Marks the layer on this thread's profile, if any.
inline void profile_layer(int layer) {
    if (StageProfile* p = thread_profile()) p->set_layer(layer);
}

}  // namespace tameq
