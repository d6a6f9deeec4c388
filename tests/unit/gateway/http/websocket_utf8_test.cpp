#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gateway/http/websocket_utf8.hpp"

namespace {

using websocketpp::utf8_validator::validator;

struct Verdict {
    std::vector<bool> calls;  // each decode call's result, up to the first rejection
    bool complete = false;

    bool operator==(const Verdict& other) const { return calls == other.calls && complete == other.complete; }
};

// `text` fed in the given pieces, through the gateway's check (std::string's iterator) or
// through websocketpp's own automaton (the generic template, reached by the const iterator).
Verdict check(const std::string& text, const std::vector<std::size_t>& cuts, bool fast) {
    validator v;
    Verdict out;
    std::string piece_owner = text;
    std::size_t from = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(text.size());
    for (const std::size_t to : ends) {
        bool ok = false;
        if (fast) {
            ok = v.decode(piece_owner.begin() + static_cast<std::ptrdiff_t>(from),
                          piece_owner.begin() + static_cast<std::ptrdiff_t>(to));
        } else {
            ok = v.decode(text.cbegin() + static_cast<std::ptrdiff_t>(from),
                          text.cbegin() + static_cast<std::ptrdiff_t>(to));
        }
        out.calls.push_back(ok);
        if (!ok) {
            return out;  // websocketpp fails the connection at the first rejection
        }
        from = to;
    }
    out.complete = v.complete();
    return out;
}

Verdict fast_check(const std::string& text, const std::vector<std::size_t>& cuts = {}) {
    return check(text, cuts, true);
}

std::string encode(std::uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

}  // namespace

TEST_CASE("text frames: UTF-8 accepted and rejected as RFC 3629 says", "[http][utf8]") {
    const std::string ascii_run(37, 'a');
    CHECK(fast_check("") == Verdict{{true}, true});
    CHECK(fast_check(ascii_run) == Verdict{{true}, true});
    CHECK(fast_check(ascii_run + "\xC3\xA9" + ascii_run + "\xE2\x82\xAC" + "\xF0\x9F\x94\x8C") ==
          Verdict{{true}, true});
    CHECK(fast_check(ascii_run + "\xF4\x8F\xBF\xBF") == Verdict{{true}, true});  // U+10FFFF

    // Rejected at the byte that makes the sequence impossible, also behind long ASCII runs.
    CHECK(fast_check(ascii_run + "\xC0\x80") == Verdict{{false}, false});          // overlong NUL
    CHECK(fast_check(ascii_run + "\xE0\x80\xAF") == Verdict{{false}, false});      // overlong '/'
    CHECK(fast_check(ascii_run + "\xED\xA0\x80") == Verdict{{false}, false});      // surrogate
    CHECK(fast_check(ascii_run + "\xF4\x90\x80\x80") == Verdict{{false}, false});  // past U+10FFFF
    CHECK(fast_check(ascii_run + "\x80" + ascii_run) == Verdict{{false}, false});  // lone continuation
    CHECK(fast_check(ascii_run + "\xFF") == Verdict{{false}, false});
    CHECK(fast_check("\xC3" + ascii_run) == Verdict{{false}, false});  // sequence cut by ASCII

    // A sequence split over reads or frames: accepted piece by piece, incomplete at its end.
    const std::string euro = ascii_run + "\xE2\x82\xAC" + ascii_run;
    CHECK(fast_check(euro, {ascii_run.size() + 1}) == Verdict{{true, true}, true});
    CHECK(fast_check(euro, {ascii_run.size() + 1, ascii_run.size() + 2}) == Verdict{{true, true, true}, true});
    CHECK(fast_check(ascii_run + "\xE2\x82") == Verdict{{true}, false});
}

TEST_CASE("text frames: the ASCII fast path agrees with websocketpp's automaton", "[http][utf8]") {
    std::mt19937 rng(20261205);
    auto pick = [&](std::uint32_t lo, std::uint32_t hi) {
        return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng);
    };
    int rejected = 0;
    int incomplete = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string text;
        const auto parts = pick(0, 12);
        for (std::uint32_t k = 0; k < parts; ++k) {
            switch (pick(0, 5)) {
                case 0:
                case 1:
                    text.append(pick(0, 40), static_cast<char>(pick(0x20, 0x7E)));  // an ASCII run
                    break;
                case 2: {
                    auto cp = pick(0x80, 0x10FFFF);
                    if (cp >= 0xD800 && cp <= 0xDFFF) {
                        cp += 0x800;
                    }
                    text += encode(cp);
                    break;
                }
                case 3:
                    text += static_cast<char>(pick(0x80, 0xFF));  // any byte, mostly not valid here
                    break;
                case 4:
                    text += encode(pick(0x800, 0x10FFFF)).substr(0, pick(1, 2));  // a cut sequence
                    break;
                default:
                    text += static_cast<char>(pick(0, 0x7F));
                    break;
            }
        }
        std::vector<std::size_t> cuts;
        const auto pieces = text.empty() ? 0 : pick(0, 3);
        for (std::uint32_t k = 0; k < pieces; ++k) {
            cuts.push_back(pick(0, static_cast<std::uint32_t>(text.size())));
        }
        std::sort(cuts.begin(), cuts.end());
        const Verdict fast = check(text, cuts, true);
        const Verdict reference = check(text, cuts, false);
        INFO("round " << round << ", " << text.size() << " bytes in " << cuts.size() + 1 << " pieces");
        REQUIRE(fast == reference);
        rejected += reference.calls.back() ? 0 : 1;
        incomplete += (reference.calls.back() && !reference.complete) ? 1 : 0;
    }
    // The generator reaches every verdict, not only the easy one.
    CHECK(rejected > 1000);
    CHECK(incomplete > 100);
    CHECK(rejected < 19000);
}
