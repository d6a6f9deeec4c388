#include "ocpp/json_writer.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ocpp/errors.hpp"

namespace ocpp {
namespace {

using json = nlohmann::json;

constexpr auto kReplace = json::error_handler_t::replace;
constexpr char kHex[] = "0123456789abcdef";

// What follows the backslash for a character that must be escaped, or 0 for "\u00XX".
char short_escape(unsigned char c) {
    switch (c) {
        case '"':
            return '"';
        case '\\':
            return '\\';
        case '\b':
            return 'b';
        case '\f':
            return 'f';
        case '\n':
            return 'n';
        case '\r':
            return 'r';
        case '\t':
            return 't';
        default:
            return 0;
    }
}

template <class Integer>
void append_integer(std::string& out, Integer value) {
    std::array<char, 24> digits{};
    const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), value);
    out.append(digits.data(), result.ptr);
}

void append_double(std::string& out, double value) {
    if (!std::isfinite(value)) {
        out += "null";  // as nlohmann writes NaN and infinities
        return;
    }
    // nlohmann's own shortest round-trip formatting (Grisu2, ".0" for integral values), so
    // that the bytes are the ones dump() writes.
    std::array<char, 64> digits{};
    char* end = nlohmann::detail::to_chars(digits.data(), digits.data() + digits.size(), value);
    out.append(digits.data(), end);
}

// Text eight bytes at a time: whether a word holds a byte that a JSON string cannot carry as
// it is (a control character, a quote, a backslash) or one past ASCII.

constexpr std::uint64_t kEveryByte = 0x0101010101010101ULL;
constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

/// Non-zero when some byte of `word` is below `n` (n ≤ 0x80). Whether there is one is exact;
/// which bytes past the first it marks is not.
constexpr std::uint64_t bytes_below(std::uint64_t word, std::uint64_t n) {
    return (word - kEveryByte * n) & ~word & kHighBits;
}

/// Non-zero when some byte of `word` is `c`.
constexpr std::uint64_t bytes_equal(std::uint64_t word, unsigned char c) {
    return bytes_below(word ^ (kEveryByte * c), 1);
}

/// Non-zero when some byte of `word` is a control character, '"', '\\' or past ASCII.
constexpr std::uint64_t special_bytes(std::uint64_t word) {
    return (word & kHighBits) | bytes_below(word, 0x20) | bytes_equal(word, '"') | bytes_equal(word, '\\');
}

/// How many of the `n` bytes at `p` are whole words with no special byte, from the start: a
/// multiple of eight, the text plain up to there.
std::size_t plain_words(const char* p, std::size_t n) {
    std::size_t i = 0;
    for (; i + sizeof(std::uint64_t) <= n; i += sizeof(std::uint64_t)) {
        std::uint64_t word = 0;
        std::memcpy(&word, p + i, sizeof word);
        if (special_bytes(word) != 0) {
            break;
        }
    }
    return i;
}

// True when `text` is ASCII with nothing to escape (no control character, quote or
// backslash): nearly every string of a station's message, written as it is. Eight bytes at a
// time.
bool plain_ascii(std::string_view text) {
    for (std::size_t i = plain_words(text.data(), text.size()); i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80 || c < 0x20 || c == '"' || c == '\\') {
            return false;
        }
    }
    return true;
}

}  // namespace

std::size_t utf8_characters(std::string_view text) {
    std::size_t n = 0;
    for (const char c : text) {
        n += (static_cast<unsigned char>(c) & 0xC0U) != 0x80U ? 1 : 0;
    }
    return n;
}

bool valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if ((c & 0xE0U) == 0xC0U) {
            n = 1;
            cp = c & 0x1FU;
        } else if ((c & 0xF0U) == 0xE0U) {
            n = 2;
            cp = c & 0x0FU;
        } else if ((c & 0xF8U) == 0xF0U) {
            n = 3;
            cp = c & 0x07U;
        } else {
            return false;
        }
        if (i + n >= text.size()) {
            return false;  // truncated sequence
        }
        for (std::size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xC0U) != 0x80U) {
                return false;
            }
            cp = (cp << 6U) | (cc & 0x3FU);
        }
        const bool overlong = (n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000);
        if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

void append_json_string(std::string& out, std::string_view text) {
    if (plain_ascii(text)) {
        out.reserve(out.size() + text.size() + 2);
        out.push_back('"');
        out.append(text);
        out.push_back('"');
        return;
    }
    // One pass without branches tells what the text holds.
    bool ascii = true;
    bool plain = true;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        ascii &= c < 0x80;
        plain &= c >= 0x20 && c != '"' && c != '\\';
    }
    if (!ascii && !valid_utf8(text)) {
        // nlohmann's U+FFFD replacement, rare enough to take its way.
        out += json(std::string(text)).dump(-1, ' ', false, kReplace);
        return;
    }
    out.push_back('"');
    if (plain) {
        out.append(text);
        out.push_back('"');
        return;
    }
    std::size_t run = 0;  // where the characters not yet appended start
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out.append(text.data() + run, i - run);
        run = i + 1;
        out.push_back('\\');
        if (const char e = short_escape(c); e != 0) {
            out.push_back(e);
        } else {
            out += "u00";
            out.push_back(kHex[c >> 4U]);
            out.push_back(kHex[c & 0x0FU]);
        }
    }
    out.append(text.data() + run, text.size() - run);
    out.push_back('"');
}

void append_json(std::string& out, const json& value) {
    switch (value.type()) {
        case json::value_t::object: {
            const auto& members = value.get_ref<const json::object_t&>();
            out.push_back('{');
            bool first = true;
            for (const auto& [key, member] : members) {
                if (!first) {
                    out.push_back(',');
                }
                first = false;
                append_json_string(out, key);
                out.push_back(':');
                append_json(out, member);
            }
            out.push_back('}');
            return;
        }
        case json::value_t::array: {
            const auto& items = value.get_ref<const json::array_t&>();
            out.push_back('[');
            bool first = true;
            for (const auto& item : items) {
                if (!first) {
                    out.push_back(',');
                }
                first = false;
                append_json(out, item);
            }
            out.push_back(']');
            return;
        }
        case json::value_t::string:
            append_json_string(out, value.get_ref<const json::string_t&>());
            return;
        case json::value_t::boolean:
            out += value.get<bool>() ? "true" : "false";
            return;
        case json::value_t::number_integer:
            append_integer(out, value.get<json::number_integer_t>());
            return;
        case json::value_t::number_unsigned:
            append_integer(out, value.get<json::number_unsigned_t>());
            return;
        case json::value_t::number_float:
            append_double(out, value.get<json::number_float_t>());
            return;
        case json::value_t::null:
            out += "null";
            return;
        case json::value_t::binary:
        case json::value_t::discarded:
        default:
            // Never parsed from JSON text: nlohmann's own form.
            out += value.dump(-1, ' ', false, kReplace);
            return;
    }
}

std::string write_json(const json& value) {
    std::string out;
    append_json(out, value);
    return out;
}

std::string quote(std::string_view text, std::size_t max) {
    const std::string kept = truncate_utf8(text, max);
    return write_json(json(kept)) + (kept.size() < text.size() ? "…" : "");
}

}  // namespace ocpp
