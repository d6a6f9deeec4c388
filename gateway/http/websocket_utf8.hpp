#pragma once

// websocketpp checks that a text frame is UTF-8 (RFC 6455 §8.1) by running every byte of the
// payload through a table-driven automaton, one at a time: about 70 % of its frame parsing on a
// realistic OCPP message. OCPP text is nearly all ASCII, which leaves the automaton where it
// was, so between multi-byte sequences this version skips ASCII eight bytes at a time and hands
// every other byte to the same automaton. The verdict, byte for byte and across a text split
// over frames and reads, is websocketpp's (the unit test compares the two on random input).
//
// It is an explicit specialization of websocketpp's member template for the iterator its
// processor passes (std::string's), so it must be declared before any translation unit
// instantiates that processor: every header of the gateway that includes websocketpp's
// server, connection or processors (station/ and admin/) includes this one first.

#ifdef WEBSOCKETPP_PROCESSOR_HYBI13_HPP
#error "gateway/http/websocket_utf8.hpp must be included before websocketpp's processors"
#endif

#include <websocketpp/utf8_validator.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace websocketpp {
namespace utf8_validator {

template <>
inline bool validator::decode<std::string::iterator>(std::string::iterator begin, std::string::iterator end) {
    const auto n = static_cast<std::size_t>(end - begin);
    if (n == 0) {
        return true;
    }
    const char* const p = &*begin;
    constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
    std::size_t i = 0;
    while (i < n) {
        if (m_state == utf8_accept) {
            // Between sequences an ASCII byte leaves the automaton in its accepting state.
            while (i + sizeof(std::uint64_t) <= n) {
                std::uint64_t word = 0;
                std::memcpy(&word, p + i, sizeof word);
                if ((word & kHighBits) != 0) {
                    break;
                }
                i += sizeof word;
            }
            while (i < n && static_cast<unsigned char>(p[i]) < 0x80U) {
                ++i;
            }
            if (i == n) {
                break;
            }
        }
        if (utf8_validator::decode(&m_state, &m_codepoint, static_cast<std::uint8_t>(p[i])) == utf8_reject) {
            return false;
        }
        ++i;
    }
    return true;
}

}  // namespace utf8_validator
}  // namespace websocketpp
