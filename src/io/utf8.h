#pragma once
// The few UTF-8 operations the tokenizers need.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tameq {

// Offset of the first byte that does not start a well-formed sequence (overlong forms, surrogates and code points
// past U+10FFFF are ill-formed), or std::string_view::npos when `s` is valid UTF-8.
size_t utf8_invalid_offset(std::string_view s);

// Length of the longest prefix of `s` that does not end inside an unfinished multi-byte sequence.
size_t utf8_complete_prefix(std::string_view s);

// Length of the sequence that lead byte `c` announces (1 for ASCII and for bytes that cannot lead).
inline int utf8_seq_len(uint8_t c) {
    if (c < 0xC0) return 1;
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    return c < 0xF8 ? 4 : 1;
}

// Decodes the code point at s[i] (which must be valid UTF-8) and advances i past it.
uint32_t utf8_next(std::string_view s, size_t& i);

void utf8_append(std::string& out, uint32_t cp);

}  // namespace tameq
