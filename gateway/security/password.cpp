#include "gateway/security/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <vector>

#include "gateway/security/basic_auth.hpp"

namespace gateway::security {
namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr unsigned kMinIterations = 1000;
constexpr unsigned kMaxIterations = 10000000;

struct Parsed {
    unsigned iterations = 0;
    std::string salt;
    std::string key;
};

std::optional<Parsed> parse_hash(std::string_view encoded) {
    // scheme$iterations$salt$key
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const auto dollar = encoded.find('$', start);
        parts.push_back(encoded.substr(start, dollar == std::string_view::npos ? std::string_view::npos : dollar - start));
        if (dollar == std::string_view::npos) {
            break;
        }
        start = dollar + 1;
    }
    if (parts.size() != 4 || parts[0] != kScheme || parts[1].empty() || parts[1].size() > 8 ||
        !std::all_of(parts[1].begin(), parts[1].end(), [](unsigned char c) { return std::isdigit(c); })) {
        return std::nullopt;
    }
    Parsed p;
    p.iterations = static_cast<unsigned>(std::stoul(std::string(parts[1])));
    auto salt = base64_decode(parts[2]);
    auto key = base64_decode(parts[3]);
    if (p.iterations < kMinIterations || p.iterations > kMaxIterations || !salt || !key ||
        salt->size() < 8 || key->size() != 32) {
        return std::nullopt;
    }
    p.salt = std::move(*salt);
    p.key = std::move(*key);
    return p;
}

std::string derive(std::string_view password, const std::string& salt, unsigned iterations) {
    std::string key(32, '\0');
    PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                      reinterpret_cast<const unsigned char*>(salt.data()),
                      static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                      static_cast<int>(key.size()), reinterpret_cast<unsigned char*>(key.data()));
    return key;
}

bool is_hex(std::string_view s) {
    return !s.empty() && s.size() % 2 == 0 &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

}  // namespace

std::optional<std::string> hex_decode(std::string_view s) {
    if (!is_hex(s)) {
        return std::nullopt;
    }
    std::string out;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

std::string hex_encode(std::string_view s) {
    static constexpr char kDigits[] = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : s) {
        out.push_back(kDigits[c >> 4]);
        out.push_back(kDigits[c & 15]);
    }
    return out;
}

std::string hash_password(std::string_view password, unsigned iterations) {
    std::string salt(16, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1) {
        throw std::runtime_error("no randomness available for a password salt");
    }
    iterations = std::clamp(iterations, kMinIterations, kMaxIterations);
    return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + base64_encode(salt) +
           "$" + base64_encode(derive(password, salt, iterations));
}

std::optional<std::string> password_hash_error(std::string_view encoded) {
    if (parse_hash(encoded)) {
        return std::nullopt;
    }
    return "not a password hash of the form pbkdf2-sha256$<iterations 1000..10000000>$<salt, "
           "base64, 8+ bytes>$<32-byte key, base64> (make one with `ocpp-gateway hash-password`)";
}

bool password_matches(std::string_view encoded, std::string_view password) {
    const auto parsed = parse_hash(encoded);
    if (!parsed) {
        return false;
    }
    const std::string key = derive(password, parsed->salt, parsed->iterations);
    return CRYPTO_memcmp(key.data(), parsed->key.data(), key.size()) == 0;
}

}  // namespace gateway::security
