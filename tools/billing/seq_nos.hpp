#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace billing {

/// A set of 2.0.1 seqNos kept as ranges: a session of any length is one entry (a few when
/// events are missing or read out of order). At most kMaxRanges: firmware that numbers every
/// event of the station rather than of the transaction leaves a gap per event of the other
/// connectors, and the session's record would outgrow what Kafka takes. Past it the lowest
/// range goes: a resend of those numbers is applied again, which changes nothing.
class SeqNos {
public:
    static constexpr std::size_t kMaxRanges = 2048;

    /// Adds n; false when it was there.
    bool insert(std::int64_t n);
    /// Adds every number from low to high; false (nothing added) when high < low.
    bool insert_range(std::int64_t low, std::int64_t high);
    void insert_all(const SeqNos& other);
    bool contains(std::int64_t n) const;
    /// first → last of each range, in order, disjoint and not adjacent.
    const std::map<std::int64_t, std::int64_t>& ranges() const { return ranges_; }
    bool operator==(const SeqNos& o) const { return ranges_ == o.ranges_; }

private:
    std::map<std::int64_t, std::int64_t> ranges_;
};

}  // namespace billing
