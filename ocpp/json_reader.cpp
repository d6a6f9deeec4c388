#include "ocpp/json_reader.hpp"

#include <charconv>
#include <cstdlib>
#include <cmath>

namespace ocpp {
namespace {

using json = nlohmann::json;

class Reader {
public:
    Reader(std::string_view text, std::size_t max_depth)
        : p_(text.data()), begin_(text.data()), end_(text.data() + text.size()),
          max_depth_(max_depth) {}

    bool document(json& out) {
        skip_ws();
        if (!value(out, 0)) {
            return false;
        }
        skip_ws();
        return p_ == end_ || fail(JsonError::Kind::syntax);
    }

    JsonError error() const { return error_; }

private:
    bool fail(JsonError::Kind kind) {
        error_ = JsonError{kind, static_cast<std::size_t>(p_ - begin_)};
        return false;
    }

    void skip_ws() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
            ++p_;
        }
    }

    bool literal(std::string_view word) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() ||
            std::string_view(p_, word.size()) != word) {
            return fail(JsonError::Kind::syntax);
        }
        p_ += word.size();
        return true;
    }

    bool value(json& out, std::size_t depth) {
        if (p_ >= end_) {
            return fail(JsonError::Kind::syntax);
        }
        switch (*p_) {
            case '{':
                return object(out, depth + 1);
            case '[':
                return array(out, depth + 1);
            case '"': {
                std::string s;
                if (!string(s)) {
                    return false;
                }
                out = std::move(s);
                return true;
            }
            case 't':
                out = true;
                return literal("true");
            case 'f':
                out = false;
                return literal("false");
            case 'n':
                out = nullptr;
                return literal("null");
            default:
                return number(out);
        }
    }

    bool object(json& out, std::size_t depth) {
        if (depth > max_depth_) {
            return fail(JsonError::Kind::too_deep);
        }
        ++p_;  // '{'
        out = json::object();
        auto& members = out.get_ref<json::object_t&>();
        skip_ws();
        if (p_ < end_ && *p_ == '}') {
            ++p_;
            return true;
        }
        while (true) {
            if (p_ >= end_ || *p_ != '"') {
                return fail(JsonError::Kind::syntax);
            }
            std::string key;
            if (!string(key)) {
                return false;
            }
            skip_ws();
            if (p_ >= end_ || *p_ != ':') {
                return fail(JsonError::Kind::syntax);
            }
            ++p_;
            skip_ws();
            json member;
            if (!value(member, depth)) {
                return false;
            }
            members.insert_or_assign(std::move(key), std::move(member));  // last one wins
            skip_ws();
            if (p_ < end_ && *p_ == ',') {
                ++p_;
                skip_ws();
                continue;
            }
            if (p_ < end_ && *p_ == '}') {
                ++p_;
                return true;
            }
            return fail(JsonError::Kind::syntax);
        }
    }

    bool array(json& out, std::size_t depth) {
        if (depth > max_depth_) {
            return fail(JsonError::Kind::too_deep);
        }
        ++p_;  // '['
        out = json::array();
        auto& items = out.get_ref<json::array_t&>();
        skip_ws();
        if (p_ < end_ && *p_ == ']') {
            ++p_;
            return true;
        }
        while (true) {
            items.emplace_back();
            if (!value(items.back(), depth)) {
                return false;
            }
            skip_ws();
            if (p_ < end_ && *p_ == ',') {
                ++p_;
                skip_ws();
                continue;
            }
            if (p_ < end_ && *p_ == ']') {
                ++p_;
                return true;
            }
            return fail(JsonError::Kind::syntax);
        }
    }

    static int hex(char c) { return hex_digit_value(c); }

    bool hex4(std::uint32_t& out) {
        if (end_ - p_ < 4) {
            return fail(JsonError::Kind::syntax);
        }
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex(p_[i]);
            if (h < 0) {
                return fail(JsonError::Kind::syntax);
            }
            out = out * 16 + static_cast<std::uint32_t>(h);
        }
        p_ += 4;
        return true;
    }

    static void append_utf8(std::string& s, std::uint32_t cp) {
        if (cp < 0x80) {
            s.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
    }

    // One UTF-8 sequence starting at p_ (a byte >= 0x80): well-formed per RFC 3629.
    bool utf8_sequence() {
        const auto b0 = static_cast<unsigned char>(*p_);
        std::size_t n = 0;
        unsigned char lo = 0x80;
        unsigned char hi = 0xBF;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            n = 1;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            n = 2;
            lo = b0 == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
            hi = b0 == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            n = 3;
            lo = b0 == 0xF0 ? 0x90 : 0x80;
            hi = b0 == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
        } else {
            return fail(JsonError::Kind::syntax);
        }
        if (static_cast<std::size_t>(end_ - p_) <= n) {
            return fail(JsonError::Kind::syntax);
        }
        const auto b1 = static_cast<unsigned char>(p_[1]);
        if (b1 < lo || b1 > hi) {
            return fail(JsonError::Kind::syntax);
        }
        for (std::size_t i = 2; i <= n; ++i) {
            const auto b = static_cast<unsigned char>(p_[i]);
            if (b < 0x80 || b > 0xBF) {
                return fail(JsonError::Kind::syntax);
            }
        }
        p_ += n + 1;
        return true;
    }

    bool string(std::string& out) {
        ++p_;  // '"'
        while (true) {
            const char* run = p_;
            while (p_ < end_) {
                const auto c = static_cast<unsigned char>(*p_);
                if (c == '"' || c == '\\' || c < 0x20) {
                    break;
                }
                if (c >= 0x80) {
                    if (!utf8_sequence()) {
                        return false;
                    }
                    continue;
                }
                ++p_;
            }
            out.append(run, static_cast<std::size_t>(p_ - run));
            if (p_ >= end_ || static_cast<unsigned char>(*p_) < 0x20) {
                return fail(JsonError::Kind::syntax);
            }
            if (*p_ == '"') {
                ++p_;
                return true;
            }
            // Escape.
            ++p_;
            if (p_ >= end_) {
                return fail(JsonError::Kind::syntax);
            }
            const char e = *p_++;
            switch (e) {
                case '"':
                    out.push_back('"');
                    break;
                case '\\':
                    out.push_back('\\');
                    break;
                case '/':
                    out.push_back('/');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!hex4(cp)) {
                        return false;
                    }
                    if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return fail(JsonError::Kind::syntax);  // lone low surrogate
                    }
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        std::uint32_t low = 0;
                        if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') {
                            return fail(JsonError::Kind::syntax);  // lone high surrogate
                        }
                        p_ += 2;
                        if (!hex4(low)) {
                            return false;
                        }
                        if (low < 0xDC00 || low > 0xDFFF) {
                            return fail(JsonError::Kind::syntax);
                        }
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default:
                    --p_;
                    return fail(JsonError::Kind::syntax);
            }
        }
    }

    bool number(json& out) {
        const char* start = p_;
        bool negative = false;
        if (*p_ == '-') {
            negative = true;
            ++p_;
        }
        if (p_ >= end_) {
            return fail(JsonError::Kind::syntax);
        }
        if (*p_ == '0') {
            ++p_;
        } else if (*p_ >= '1' && *p_ <= '9') {
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
                ++p_;
            }
        } else {
            return fail(JsonError::Kind::syntax);
        }
        bool integral = true;
        if (p_ < end_ && *p_ == '.') {
            integral = false;
            ++p_;
            const char* digits = p_;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
                ++p_;
            }
            if (p_ == digits) {
                return fail(JsonError::Kind::syntax);
            }
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            integral = false;
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) {
                ++p_;
            }
            const char* digits = p_;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
                ++p_;
            }
            if (p_ == digits) {
                return fail(JsonError::Kind::syntax);
            }
        }
        if (integral) {
            if (negative) {
                std::int64_t v = 0;
                const auto r = std::from_chars(start, p_, v);
                if (r.ec == std::errc() && r.ptr == p_) {
                    out = v;
                    return true;
                }
            } else {
                std::uint64_t v = 0;
                const auto r = std::from_chars(start, p_, v);
                if (r.ec == std::errc() && r.ptr == p_) {
                    // nlohmann stores non-negative integers that fit int64 as signed.
                    if (v <= static_cast<std::uint64_t>(INT64_MAX)) {
                        out = static_cast<std::int64_t>(v);
                    } else {
                        out = v;
                    }
                    return true;
                }
            }
            // Too large for 64 bits: a double, as nlohmann does.
        }
        double d = 0;
        const auto r = std::from_chars(start, p_, d);
        if (r.ec == std::errc::result_out_of_range) {
            // Too small (underflow, 1e-400 or 0.000…1) is a zero or a denormal, as nlohmann's
            // strtod gives; too large (1e400, or 1000…0e-1) is refused. Which one it is, only
            // the conversion can tell: the sign of the exponent does not.
            const std::string text(start, static_cast<std::size_t>(p_ - start));
            const double value = std::strtod(text.c_str(), nullptr);
            if (std::isinf(value)) {
                p_ = start;
                return fail(JsonError::Kind::out_of_range);
            }
            out = value;
            return true;
        }
        if (r.ec != std::errc() || r.ptr != p_ || !std::isfinite(d)) {
            p_ = start;
            return fail(JsonError::Kind::out_of_range);
        }
        out = d;
        return true;
    }

    const char* p_;
    const char* begin_;
    const char* end_;
    std::size_t max_depth_;
    JsonError error_{JsonError::Kind::syntax, 0};
};

}  // namespace

Result<nlohmann::json, JsonError> read_json(std::string_view text, std::size_t max_depth) {
    Reader reader(text, max_depth);
    json out;
    if (!reader.document(out)) {
        return reader.error();
    }
    return out;
}

int hex_digit_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

}  // namespace ocpp
