#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace gateway::commands {

/// Which command offsets may be committed: a command's offset is committed only once the
/// records it caused (route, result) are acknowledged, and only in order per partition, so an
/// owner that dies after reading a command but before deciding leaves it to the next owner.
///
///   intake thread: read(p, 7) read(p, 8) read(p, 9) ─▶ committable() ─▶ store(p, next)
///   any thread:    acknowledged(p, 8) … acknowledged(p, 7)      ─▶ next = 9 once 7 and 8 are in
class OffsetTracker {
public:
    using Partition = std::pair<std::string, std::int32_t>;

    /// The intake thread read the command at `offset`.
    void read(const Partition& partition, std::int64_t offset);
    /// The command's records are acknowledged (any thread).
    void acknowledged(const Partition& partition, std::int64_t offset);
    /// Per partition, the offset to commit now (everything below it is handled); each
    /// partition appears only when it moved. Intake thread.
    std::vector<std::pair<Partition, std::int64_t>> committable();
    /// Forgets what was read from partitions this instance no longer owns. Intake thread.
    void forget(const Partition& partition) { pending_.erase(partition); }

private:
    std::mutex mutex_;
    std::vector<std::pair<Partition, std::int64_t>> acknowledged_;  // under mutex_
    std::map<Partition, std::map<std::int64_t, bool>> pending_;     // intake thread only
};

/// Commands the intake read whose records Kafka has not acknowledged yet. The same record
/// read again meanwhile (its partition came back after a rebalance, from the committed
/// offset) is no new command, but its offset is committable only once the first read's
/// records are in: acknowledged at once, the commit could pass a command whose route write
/// then fails, and an instance that died before writing it again would lose the command.
///
///   first read:  open(id) … records acknowledged ─▶ close(id) ─▶ the later reads' callbacks
///   later read:  join(id, taken): held until close(id), or run at once when nothing is open
class OpenReads {
public:
    using Callback = std::function<void()>;
    /// The first read of `command_id`.
    void open(const std::string& command_id);
    /// A later read of `command_id`: `taken` runs at close(command_id), or now when no read of
    /// it is open. Returns whether it was held.
    bool join(const std::string& command_id, Callback taken);
    /// The first read's records are acknowledged: the later reads' callbacks, to run.
    std::vector<Callback> close(const std::string& command_id);
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::vector<Callback>> open_;  // under mutex_
};

}  // namespace gateway::commands
