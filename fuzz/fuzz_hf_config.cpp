// libFuzzer target: config.json parsing must reject any text with tameq::Error, never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "io/hf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        (void)tameq::parse_hf_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz/config.json");
    } catch (const tameq::Error&) {
    }
    return 0;
}
