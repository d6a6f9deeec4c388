// The gateway's UTF-8 check of text frames (gateway/http/websocket_utf8.hpp, ASCII skipped
// eight bytes at a time) against websocketpp's own automaton, which it promises to reproduce:
// the input is a text cut into one to four pieces where its first bytes say (a text split over
// reads and frames); both must give the same verdict for every piece, and the whole text is
// accepted exactly when it is well-formed UTF-8 (RFC 3629).
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "gateway/http/websocket_utf8.hpp"

namespace {

using websocketpp::utf8_validator::validator;

struct Verdict {
    std::vector<bool> pieces;  // each piece's result, up to the first rejection
    bool complete = false;
};

// std::string's iterator reaches the gateway's specialization, the const iterator
// websocketpp's template.
Verdict check(std::string& text, const std::vector<std::size_t>& ends, bool gateway) {
    validator v;
    Verdict out;
    std::size_t from = 0;
    for (const std::size_t to : ends) {
        const auto b = static_cast<std::ptrdiff_t>(from);
        const auto e = static_cast<std::ptrdiff_t>(to);
        const bool ok = gateway ? v.decode(text.begin() + b, text.begin() + e)
                                : v.decode(text.cbegin() + b, text.cbegin() + e);
        out.pieces.push_back(ok);
        if (!ok) {
            return out;
        }
        from = to;
    }
    out.complete = v.complete();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Byte 0: how many cuts (its low two bits); then one byte a cut, where it falls in the
    // text (0 its start, 255 its end); the rest is the text.
    std::size_t at = 0;
    const unsigned cuts = size > 0 ? data[at++] & 3U : 0;
    std::vector<std::uint8_t> where;
    while (where.size() < cuts && at < size) {
        where.push_back(data[at++]);
    }
    std::string text(fuzz::as_text(data + at, size - at));
    std::vector<std::size_t> ends;
    for (const std::uint8_t w : where) {
        ends.push_back(text.size() * w / 255);
    }
    std::sort(ends.begin(), ends.end());
    ends.push_back(text.size());

    const Verdict ours = check(text, ends, true);
    const Verdict theirs = check(text, ends, false);
    fuzz::require(ours.pieces == theirs.pieces, "the same verdict as websocketpp for every piece");
    fuzz::require(ours.complete == theirs.complete, "the same verdict as websocketpp at the end");
    const bool accepted = ours.pieces.back() && ours.complete;
    fuzz::require(accepted == fuzz::valid_utf8(text), "accepted exactly when the text is UTF-8");
    return 0;
}
