#include "gateway/security.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "gateway/auth.hpp"
#include "gateway/config.hpp"
#include "kafka_bridge/envelope.hpp"

namespace gateway {
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

std::string hex_decode(std::string_view s) {
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

}  // namespace

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

void StationRegistry::load_file(const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        throw std::runtime_error("station registry " + path + ": " + e.what());
    }
    const auto list = root["stations"];
    if (!list || !list.IsSequence()) {
        throw std::runtime_error("station registry " + path + ": expected `stations:` with a list of entries");
    }
    std::map<std::string, StationCredential, std::less<>> loaded;
    std::size_t index = 0;
    for (const auto& entry : list) {
        const std::string where = "station registry " + path + ", entry " + std::to_string(index++);
        if (!entry.IsMap() || !entry["id"]) {
            throw std::runtime_error(where + ": expected a mapping with `id`");
        }
        StationCredential c;
        c.station_id = entry["id"].as<std::string>();
        if (auto error = identity_error(c.station_id)) {
            throw std::runtime_error(where + ": " + *error);
        }
        for (const auto& field : entry) {
            const auto name = field.first.as<std::string>();
            if (name != "id" && name != "password_hash" && name != "enabled") {
                throw std::runtime_error(where + " (" + c.station_id + "): unknown key `" + name + "`");
            }
        }
        if (entry["password_hash"]) {
            c.password_hash = entry["password_hash"].as<std::string>();
            if (auto error = password_hash_error(c.password_hash)) {
                throw std::runtime_error(where + " (" + c.station_id + "): password_hash is " + *error);
            }
        }
        if (entry["enabled"]) {
            c.enabled = entry["enabled"].as<bool>();
        }
        if (!loaded.emplace(ocpp::ascii_lower(c.station_id), c).second) {
            throw std::runtime_error(where + ": " + c.station_id + " is listed twice");
        }
    }
    std::unique_lock<std::shared_mutex> lock(mutex_);
    for (auto& [key, c] : loaded) {
        stations_[key] = std::move(c);
    }
}

std::optional<std::string> StationRegistry::apply_record(const std::string& key,
                                                         const std::optional<std::string>& value) {
    if (identity_error(key)) {
        return "key \"" + key + "\" is not a station identity";
    }
    if (!value) {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        stations_.erase(ocpp::ascii_lower(key));
        return std::nullopt;
    }
    const auto doc = nlohmann::json::parse(*value, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return std::string("value is not a JSON object");
    }
    StationCredential c;
    c.station_id = key;
    if (const auto id = doc.find("stationId"); id != doc.end()) {
        if (!id->is_string() || ocpp::ascii_lower(id->get<std::string>()) != ocpp::ascii_lower(key)) {
            return std::string("stationId differs from the record key");
        }
        c.station_id = id->get<std::string>();
    }
    if (const auto h = doc.find("passwordHash"); h != doc.end() && !h->is_null()) {
        if (!h->is_string() || password_hash_error(h->get<std::string>())) {
            return "passwordHash is " + *password_hash_error(h->is_string() ? h->get<std::string>() : "");
        }
        c.password_hash = h->get<std::string>();
    }
    if (const auto e = doc.find("enabled"); e != doc.end()) {
        if (!e->is_boolean()) {
            return std::string("enabled must be true or false");
        }
        c.enabled = e->get<bool>();
    }
    std::unique_lock<std::shared_mutex> lock(mutex_);
    stations_[ocpp::ascii_lower(key)] = std::move(c);
    return std::nullopt;
}

bool StationRegistry::empty() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return stations_.empty();
}

std::size_t StationRegistry::size() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    return stations_.size();
}

std::optional<StationCredential> StationRegistry::find(std::string_view station_id) const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    const auto it = stations_.find(ocpp::ascii_lower(station_id));
    if (it == stations_.end()) {
        return std::nullopt;
    }
    return it->second;
}

StationRegistry::Verdict StationRegistry::verify(std::string_view station_id,
                                                 std::string_view password,
                                                 ocpp::ProtocolVersion version,
                                                 std::chrono::seconds cache_for) {
    const auto credential = find(station_id);
    if (!credential) {
        return Verdict::unknown_station;
    }
    if (!credential->enabled) {
        return Verdict::disabled;
    }
    if (credential->password_hash.empty()) {
        return Verdict::bad_credentials;  // no password registered: Basic cannot succeed
    }
    const std::string key = ocpp::ascii_lower(station_id);
    const std::string digest = kafka_bridge::sha256_hex(password);
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        const auto it = verified_.find(key);
        if (it != verified_.end() && it->second.until > now &&
            it->second.hash == credential->password_hash &&
            constant_time_equal(it->second.password_digest, digest)) {
            return Verdict::ok;
        }
    }
    bool ok = password_matches(credential->password_hash, password);
    if (!ok && version == ocpp::ProtocolVersion::v16) {
        ok = (is_hex(password) && password_matches(credential->password_hash, hex_decode(password))) ||
             password_matches(credential->password_hash, hex_encode(password));
    }
    if (!ok) {
        return Verdict::bad_credentials;
    }
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (verified_.size() > 200000) {
        verified_.clear();  // bounded; a storm after this only costs the PBKDF2 again
    }
    verified_[key] = Cached{digest, credential->password_hash, now + cache_for};
    return Verdict::ok;
}

std::chrono::seconds AttemptThrottle::retry_after(const std::string& key, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end() || it->second.blocked_until <= now) {
        return std::chrono::seconds(0);
    }
    return std::chrono::duration_cast<std::chrono::seconds>(it->second.blocked_until - now) +
           std::chrono::seconds(1);
}

bool AttemptThrottle::failure(const std::string& key, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.size() >= settings_.max_keys && entries_.count(key) == 0) {
        // Forget the entry that started longest ago.
        auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
            return a.second.first < b.second.first;
        });
        entries_.erase(oldest);
    }
    Entry& e = entries_[key];
    if (e.failures == 0 || now - e.first > settings_.window) {
        if (e.blocked_until <= now) {
            e = Entry{};
        }
        e.first = now;
    }
    ++e.failures;
    if (e.failures < settings_.limit) {
        return false;
    }
    const bool starts = e.blocked_until <= now;
    e.backoff = e.backoff.count() == 0 ? settings_.base_backoff
                                       : std::min(settings_.max_backoff, e.backoff * 2);
    e.blocked_until = now + e.backoff;
    return starts;
}

void AttemptThrottle::success(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(key);
}

bool RateLimiter::try_take(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (last_ != Clock::time_point{}) {
        const double elapsed = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
    }
    last_ = now;
    if (tokens_ < 1.0) {
        return false;
    }
    tokens_ -= 1.0;
    return true;
}

}  // namespace gateway
