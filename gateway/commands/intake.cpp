#include "gateway/commands/intake.hpp"

namespace gateway::commands {

void OffsetTracker::read(const Partition& partition, std::int64_t offset) {
    pending_[partition][offset] = false;
}

void OffsetTracker::acknowledged(const Partition& partition, std::int64_t offset) {
    std::lock_guard<std::mutex> lock(mutex_);
    acknowledged_.emplace_back(partition, offset);
}

std::vector<std::pair<OffsetTracker::Partition, std::int64_t>> OffsetTracker::committable() {
    std::vector<std::pair<Partition, std::int64_t>> acknowledged;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        acknowledged.swap(acknowledged_);
    }
    for (const auto& [partition, offset] : acknowledged) {
        if (const auto it = pending_.find(partition); it != pending_.end()) {
            if (const auto o = it->second.find(offset); o != it->second.end()) {
                o->second = true;
            }
        }
    }
    std::vector<std::pair<Partition, std::int64_t>> out;
    for (auto& [partition, offsets] : pending_) {
        std::int64_t next = -1;
        while (!offsets.empty() && offsets.begin()->second) {
            next = offsets.begin()->first + 1;
            offsets.erase(offsets.begin());
        }
        if (next >= 0) {
            out.emplace_back(partition, next);
        }
    }
    return out;
}

}  // namespace gateway::commands
