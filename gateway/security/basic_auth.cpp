#include "gateway/security/basic_auth.hpp"

#include <cctype>

namespace gateway::security {
namespace {

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

// Longest Authorization header considered: a 48-character identity and a 64-byte password
// (OCPP's BasicAuthPassword limit is 40) need well under 200 characters.
constexpr std::size_t kMaxAuthorizationLength = 1024;

}  // namespace

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        int v[4];
        int padding = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = text[i + k];
            if (c == '=' && i + 4 == text.size() && k >= 2) {
                v[k] = 0;
                ++padding;
                continue;
            }
            if (padding > 0) {
                return std::nullopt;  // data after '='
            }
            v[k] = base64_value(c);
            if (v[k] < 0) {
                return std::nullopt;
            }
        }
        const std::uint32_t n = (static_cast<std::uint32_t>(v[0]) << 18) |
                                (static_cast<std::uint32_t>(v[1]) << 12) |
                                (static_cast<std::uint32_t>(v[2]) << 6) |
                                static_cast<std::uint32_t>(v[3]);
        out.push_back(static_cast<char>((n >> 16) & 0xff));
        if (padding < 2) {
            out.push_back(static_cast<char>((n >> 8) & 0xff));
        }
        if (padding < 1) {
            out.push_back(static_cast<char>(n & 0xff));
        }
    }
    return out;
}

ocpp::Result<BasicCredentials, std::string> parse_basic_authorization(std::string_view header) {
    if (header.size() > kMaxAuthorizationLength) {
        return std::string("Authorization header too long");
    }
    constexpr std::string_view kScheme = "basic ";
    if (header.size() < kScheme.size()) {
        return std::string("Authorization is not HTTP Basic");
    }
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) {
            return std::string("Authorization is not HTTP Basic");
        }
    }
    const auto decoded = base64_decode(header.substr(kScheme.size()));
    if (!decoded) {
        return std::string("Basic credentials are not valid base64");
    }
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) {
        return std::string("Basic credentials have no ':' between user and password");
    }
    return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::string base64_encode(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
        std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (n > 1) {
            v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        }
        if (n > 2) {
            v |= static_cast<unsigned char>(bytes[i + 2]);
        }
        out.push_back(kAlphabet[(v >> 18) & 63]);
        out.push_back(kAlphabet[(v >> 12) & 63]);
        out.push_back(n > 1 ? kAlphabet[(v >> 6) & 63] : '=');
        out.push_back(n > 2 ? kAlphabet[v & 63] : '=');
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    const std::size_t n = std::max(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

}  // namespace gateway::security
