#pragma once
// The quantized-model directory (docs/DESIGN.md): config.json, the tokenizer files, tameq.json (format version,
// recipe, calibration, online transforms, per-linear weight/activation specs) and safetensors shards: one per
// decoder block, written as soon as the block is quantized, plus one for embeddings/norms/lm_head, tied together
// by model.safetensors.index.json. Weights are stored as the scheme table's codes (numerics/schemes.h,
// WeightScheme::encode: unsigned code − qmin, two per byte for ≤ 4 bits with the low nibble = even column, one
// per byte otherwise), with F32 scales (and zeros for asymmetric grids) and act-order's g_idx.
// Everything goes to a temporary directory that is renamed into place at the end: an interrupted run leaves
// nothing behind. The writer is format_write.cpp, the reader format_read.cpp, the names both use
// format_names.h.
#include <memory>
#include <string>

#include "io/model_path.h"
#include "model/model.h"
#include "quant/pipeline.h"
#include "quant/recipe.h"

namespace tameq {

constexpr int kQuantFormatVersion = 1;

class QuantizedDirWriter : public QuantSink {
public:
    // `tokenizer_source`: the directory or file the tokenizer files are copied from.
    QuantizedDirWriter(std::string out_dir, std::string source_model, std::string tokenizer_source, Recipe recipe);
    ~QuantizedDirWriter() override;  // removes the temporary directory unless finish() ran

    void layer(int index, Layer&& l) override;
    void skeleton(Model&& m) override;
    // Writes tameq.json, config.json, the index and the tokenizer, then renames into place.
    void finish(const PipelineReport& report);

private:
    std::string out_, tmp_, source_, tokenizer_source_;
    Recipe recipe_;
    std::vector<std::string> shards_;
    std::string linears_json_;  // accumulated per-linear specs (JSON object text)
    struct State;
    std::unique_ptr<State> state_;
    bool finished_ = false;
};

// The simulated model of a quantized directory (FakeQuantLinear everywhere the recipe quantized).
Model load_quantized_model(const std::string& dir);
// The recipe a quantized directory was made with.
Recipe quantized_recipe(const std::string& dir);

}  // namespace tameq
