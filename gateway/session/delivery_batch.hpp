#pragma once

#include <asio/io_context.hpp>
#include <asio/io_context_strand.hpp>
#include <asio/post.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace gateway::session {

/// Hands what Kafka delivery reports decide (answer the station, fail the call) to the
/// sessions' strands: gathered over one poll round of the producer and handed to the I/O
/// threads in at most `lanes` posts, instead of one post (and often one thread wake-up) per
/// record.
///
///   poll thread:  gather(poll) ─▶ delivery callbacks ─▶ run_on(strand, fn) ─▶ collected
///                              └─▶ round over ─▶ one post per lane ─▶ I/O thread
///   I/O thread:   for each collected: strand.dispatch(fn)  (inline when the strand is free)
///
/// A session's items stay in one lane, in order. Outside gather() (another thread serving
/// reports, e.g. a flush while draining) run_on() posts at once.
class DeliveryBatch {
public:
    DeliveryBatch(asio::io_context& io, unsigned lanes) : io_(io), lanes_(lanes > 0 ? lanes : 1) {}
    DeliveryBatch(const DeliveryBatch&) = delete;
    DeliveryBatch& operator=(const DeliveryBatch&) = delete;

    using Strand = std::shared_ptr<asio::io_context::strand>;

    /// Runs `fn` on `strand`: when the current poll round ends, or at once outside gather().
    void run_on(const Strand& strand, std::function<void()> fn) {
        if (gathering_ != nullptr && gathering_->owner == this) {
            gathering_->items.push_back({strand, std::move(fn)});
            return;
        }
        asio::post(*strand, std::move(fn));
    }

    /// Calls `poll` (which serves delivery reports on this thread) and hands over what their
    /// callbacks gathered; returns what `poll` returned.
    template <class Poll>
    auto gather(Poll&& poll) -> decltype(poll()) {
        Round round{this, {}};
        gathering_ = &round;
        struct Reset {
            ~Reset() { gathering_ = nullptr; }
        } reset;
        auto result = poll();
        gathering_ = nullptr;
        hand_over(std::move(round.items));
        return result;
    }

private:
    struct Item {
        Strand strand;
        std::function<void()> fn;
    };
    struct Round {
        const DeliveryBatch* owner;
        std::vector<Item> items;
    };

    void hand_over(std::vector<Item> items) {
        if (items.empty()) {
            return;
        }
        if (lanes_ == 1 || items.size() == 1) {
            post_lane(std::move(items));
            return;
        }
        std::vector<std::vector<Item>> lanes(lanes_);
        for (auto& item : items) {
            // Strands are aligned heap objects: mix the address before taking the lane.
            const auto address = reinterpret_cast<std::uintptr_t>(item.strand.get());
            const auto lane = ((address >> 4U) * 0x9E3779B97F4A7C15ULL >> 32U) % lanes_;
            lanes[lane].push_back(std::move(item));
        }
        for (auto& lane : lanes) {
            if (!lane.empty()) {
                post_lane(std::move(lane));
            }
        }
    }

    void post_lane(std::vector<Item> lane) {
        asio::post(io_, [lane = std::move(lane)]() mutable {
            for (auto& item : lane) {
                item.strand->dispatch(std::move(item.fn));
            }
        });
    }

    static thread_local Round* gathering_;
    asio::io_context& io_;
    const unsigned lanes_;
};

inline thread_local DeliveryBatch::Round* DeliveryBatch::gathering_ = nullptr;

}  // namespace gateway::session
