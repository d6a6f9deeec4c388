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

void OpenReads::open(const std::string& command_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    open_.try_emplace(command_id);
}

bool OpenReads::join(const std::string& command_id, Callback taken) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (const auto it = open_.find(command_id); it != open_.end()) {
            it->second.push_back(std::move(taken));
            return true;
        }
    }
    taken();
    return false;
}

std::vector<OpenReads::Callback> OpenReads::close(const std::string& command_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Callback> held;
    if (const auto it = open_.find(command_id); it != open_.end()) {
        held = std::move(it->second);
        open_.erase(it);
    }
    return held;
}

std::size_t OpenReads::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return open_.size();
}

}  // namespace gateway::commands
