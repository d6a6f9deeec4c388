#include <catch2/catch.hpp>

#include <string>

#include "gateway/config/config.hpp"
#include "gateway/station/proxy_protocol.hpp"

namespace proxy = gateway::station::proxy;
using gateway::config::parse_network;

namespace {

proxy::Source source_of(const std::variant<proxy::Source, proxy::Error>& result) {
    if (const auto* error = std::get_if<proxy::Error>(&result)) {
        FAIL("refused: " << error->reason);
    }
    return std::get<proxy::Source>(result);
}

std::string error_of(const std::variant<proxy::Source, proxy::Error>& result) {
    REQUIRE(std::holds_alternative<proxy::Error>(result));
    return std::get<proxy::Error>(result).reason;
}

/// A v2 header: signature, version 2 / `command`, `family`, then `body`.
std::string v2(unsigned char command, unsigned char family, const std::string& body) {
    std::string h(proxy::kV2Signature);
    h += static_cast<char>(0x20 | command);
    h += static_cast<char>(family);
    h += static_cast<char>(body.size() >> 8);
    h += static_cast<char>(body.size() & 0xFF);
    return h + body;
}

}  // namespace

TEST_CASE("PROXY v1 lines give the station's address, or a reason", "[station][proxy]") {
    auto s = source_of(proxy::parse_v1("PROXY TCP4 192.0.2.7 198.51.100.1 56324 9000\r\n"));
    CHECK_FALSE(s.local);
    CHECK(s.address.to_string() == "192.0.2.7");
    CHECK(s.port == 56324);
    s = source_of(proxy::parse_v1("PROXY TCP6 2001:db8::7 2001:db8::1 4000 9000\r\n"));
    CHECK(s.address.to_string() == "2001:db8::7");
    CHECK(source_of(proxy::parse_v1("PROXY UNKNOWN\r\n")).local);
    CHECK(source_of(proxy::parse_v1("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n")).local);

    CHECK_THAT(error_of(proxy::parse_v1("PROXY TCP4 192.0.2.7 198.51.100.1 56324 9000\n")), Catch::Contains("CRLF"));
    CHECK_THAT(error_of(proxy::parse_v1("PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n")), Catch::Contains("do not match"));
    CHECK_THAT(error_of(proxy::parse_v1("PROXY TCP4 192.0.2.7 198.51.100.1 65536 9000\r\n")), Catch::Contains("port"));
    CHECK_THAT(error_of(proxy::parse_v1("PROXY TCP4 192.0.2.7 198.51.100.1 0123 9000\r\n")), Catch::Contains("port"));
    CHECK_THAT(error_of(proxy::parse_v1("PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n")), Catch::Contains("two ports"));
    CHECK_THAT(error_of(proxy::parse_v1("PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n")), Catch::Contains("TCP4"));
    CHECK_THAT(error_of(proxy::parse_v1("GET / HTTP/1.1\r\n")), Catch::Contains("not a PROXY"));
    CHECK_THAT(error_of(proxy::parse_v1("PROXY TCP4 " + std::string(100, '1') + "\r\n")), Catch::Contains("107"));
}

TEST_CASE("PROXY v2 headers give the station's address, or a reason", "[station][proxy]") {
    // TCP over IPv4: 192.0.2.7:56324 → 198.51.100.1:9000, plus a TLV the gateway skips.
    const std::string v4body = std::string("\xC0\x00\x02\x07\xC6\x33\x64\x01\xDC\x04\x23\x28", 12) + std::string("\x04\x00\x01\x00", 4);
    const auto header = v2(1, 0x11, v4body);
    REQUIRE(proxy::v2_length(header.substr(0, 16)) == header.size());
    auto s = source_of(proxy::parse_v2(header));
    CHECK(s.address.to_string() == "192.0.2.7");
    CHECK(s.port == 56324);

    std::string v6body(36, '\0');
    v6body[0] = '\x20';
    v6body[1] = '\x01';
    v6body[2] = '\x0d';
    v6body[3] = '\xb8';
    v6body[15] = '\x07';
    v6body[32] = '\x0f';
    v6body[33] = '\xa0';
    s = source_of(proxy::parse_v2(v2(1, 0x21, v6body)));
    CHECK(s.address.to_string() == "2001:db8::7");
    CHECK(s.port == 4000);

    CHECK(source_of(proxy::parse_v2(v2(0, 0x00, ""))).local);       // LOCAL: a health check
    CHECK(source_of(proxy::parse_v2(v2(1, 0x31, std::string(216, 'u')))).local);  // unix socket

    CHECK_THAT(error_of(proxy::parse_v2(v2(1, 0x11, v4body.substr(0, 8)))), Catch::Contains("cut short"));
    CHECK_THAT(error_of(proxy::parse_v2(v2(2, 0x11, v4body))), Catch::Contains("command"));
    std::string v1version = header;
    v1version[12] = '\x11';
    CHECK_THAT(error_of(proxy::parse_v2(v1version)), Catch::Contains("version"));
    CHECK(proxy::v2_length("GET / HTTP/1.1\r\nHost") == 0);
    CHECK(proxy::v2_length(v2(1, 0x11, std::string(600, 'x')).substr(0, 16)) == 0);  // too long
    CHECK_THAT(error_of(proxy::parse_v2(header.substr(0, header.size() - 1))), Catch::Contains("whole"));
}

TEST_CASE("trusted networks match addresses by prefix", "[station][proxy]") {
    const auto ten = parse_network("10.0.0.0/8");
    REQUIRE(ten);
    CHECK(ten->contains(asio::ip::make_address("10.200.3.4")));
    CHECK_FALSE(ten->contains(asio::ip::make_address("11.0.0.1")));
    CHECK(ten->contains(asio::ip::make_address("::ffff:10.1.1.1")));  // v4-mapped
    CHECK_FALSE(ten->contains(asio::ip::make_address("::1")));
    const auto host = parse_network("127.0.0.1");
    REQUIRE(host);
    CHECK(host->prefix == 32);
    CHECK(host->contains(asio::ip::make_address("127.0.0.1")));
    CHECK_FALSE(host->contains(asio::ip::make_address("127.0.0.2")));
    const auto odd = parse_network("192.168.1.128/25");
    REQUIRE(odd);
    CHECK(odd->contains(asio::ip::make_address("192.168.1.200")));
    CHECK_FALSE(odd->contains(asio::ip::make_address("192.168.1.127")));
    const auto six = parse_network("2001:db8::/32");
    REQUIRE(six);
    CHECK(six->contains(asio::ip::make_address("2001:db8:ffff::1")));
    CHECK_FALSE(six->contains(asio::ip::make_address("2001:db9::1")));
    CHECK(parse_network("0.0.0.0/0")->contains(asio::ip::make_address("203.0.113.9")));
    for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "ten", "10.0.0.0/8x", "::/129"}) {
        INFO(bad);
        CHECK_FALSE(parse_network(bad));
    }
}
