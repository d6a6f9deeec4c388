// gateway::security::parse_basic_authorization and gateway::security::base64_decode on hostile header values.
//   base64_decode(x) succeeds → x has a length that is a multiple of 4 and re-encoding the
//                               bytes decodes to them again;
//   credentials parsed        → "Basic " + base64(user ":" password) parses to the same user
//                               and password, and the user has no ':'.
#include <string>

#include "fuzz_support.hpp"
#include "gateway/security/basic_auth.hpp"

namespace {

std::string encode_base64(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::size_t n = bytes.size() - i < 3 ? bytes.size() - i : 3;
        std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16U;
        if (n > 1) {
            v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8U;
        }
        if (n > 2) {
            v |= static_cast<unsigned char>(bytes[i + 2]);
        }
        out.push_back(kAlphabet[(v >> 18U) & 63U]);
        out.push_back(kAlphabet[(v >> 12U) & 63U]);
        out.push_back(n > 1 ? kAlphabet[(v >> 6U) & 63U] : '=');
        out.push_back(n > 2 ? kAlphabet[v & 63U] : '=');
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = fuzz::as_text(data, size);

    if (const auto decoded = gateway::security::base64_decode(text)) {
        fuzz::require(text.size() % 4 == 0, "decoded base64 has a length that is a multiple of 4");
        fuzz::require(decoded->size() <= text.size() / 4 * 3, "3 bytes at most per 4 characters");
        const std::string canonical = encode_base64(*decoded);
        fuzz::require(canonical.size() == text.size(), "canonical encoding has the same length");
        const auto again = gateway::security::base64_decode(canonical);
        fuzz::require(again && *again == *decoded, "base64 decode(encode(x)) == x");
    }

    auto credentials = gateway::security::parse_basic_authorization(text);
    if (!credentials.ok()) {
        fuzz::require(!credentials.error().empty(), "a refusal says why");
        return 0;
    }
    const auto& user = credentials.value().user;
    const auto& password = credentials.value().password;
    fuzz::require(user.find(':') == std::string::npos, "the user has no ':'");
    auto again = gateway::security::parse_basic_authorization("Basic " + encode_base64(user + ":" + password));
    fuzz::require(again.ok(), "re-encoded credentials parse");
    fuzz::require(again.value().user == user && again.value().password == password,
                  "re-encoded credentials give the same user and password");
    return 0;
}
