// Feeds arbitrary bytes to the tokenizer.json loader, then encodes and decodes a fixed text with whatever loaded.
// Only tameq::Error may escape the loader; anything else (crash, other exception, sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "io/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto tok = tameq::load_tokenizer_json_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
        std::vector<int> ids = tok->encode("Hello, world! 1234 <s> the ünï 😀\n\n  x", "fuzz");
        tok->decode(ids);
    } catch (const tameq::Error&) {
    }
    return 0;
}
