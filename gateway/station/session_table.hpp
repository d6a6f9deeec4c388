#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ocpp/types.hpp"

namespace gateway::station {

/// The open sessions of one listener: by connection handle, by identity (case-insensitive)
/// and the count per peer address. The only owner of these maps. Thread-safe.
///
/// `SessionT` needs `station_id()`; the handle is websocketpp's connection_hdl (a weak
/// pointer to the connection).
template <class SessionT>
class SessionTable {
public:
    using Handle = std::weak_ptr<void>;
    using Ptr = std::shared_ptr<SessionT>;

    /// Counts the upgrade of `handle` from `ip` against its address before it is decided, so
    /// that upgrades racing each other (or a connection whose open is still being reported)
    /// cannot exceed a per-address limit. Returns the connections of `ip` counted now,
    /// this one included. Undone by add() (it becomes the session's), release() or remove().
    std::size_t reserve(const Handle& handle, const std::string& ip) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (reserved_.emplace(handle, ip).second) {
            ++per_address_[ip];
        }
        return per_address_[ip];
    }

    /// Gives back the reservation of an upgrade that was refused or failed.
    void release(const Handle& handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        release_locked(handle);
    }

    /// Adds the session of `handle` from `ip` (taking over its reservation, if any). Returns
    /// the session of the same identity it replaces, if any (the caller supersedes it).
    Ptr add(const Handle& handle, Ptr session, const std::string& ip) {
        std::lock_guard<std::mutex> lock(mutex_);
        release_locked(handle);
        by_handle_[handle] = Entry{session, ip};
        ++per_address_[ip];
        auto& slot = by_identity_[ocpp::ascii_lower(session->station_id())];
        Ptr replaced = slot.lock();
        slot = std::move(session);
        return replaced;
    }

    /// Removes the session of `handle` and returns it (null when there is none).
    Ptr remove(const Handle& handle) {
        std::lock_guard<std::mutex> lock(mutex_);
        release_locked(handle);
        const auto it = by_handle_.find(handle);
        if (it == by_handle_.end()) {
            return nullptr;
        }
        Entry entry = std::move(it->second);
        by_handle_.erase(it);
        if (auto count = per_address_.find(entry.ip);
            count != per_address_.end() && --count->second == 0) {
            per_address_.erase(count);
        }
        const auto id = by_identity_.find(ocpp::ascii_lower(entry.session->station_id()));
        if (id != by_identity_.end() && id->second.lock() == entry.session) {
            by_identity_.erase(id);
        }
        return entry.session;
    }

    Ptr find(const Handle& handle) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = by_handle_.find(handle);
        return it == by_handle_.end() ? nullptr : it->second.session;
    }

    /// The current session of `station_id` (case-insensitive), if any.
    Ptr find_station(const std::string& station_id) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = by_identity_.find(ocpp::ascii_lower(station_id));
        return it == by_identity_.end() ? nullptr : it->second.lock();
    }

    bool has_station(const std::string& station_id) const { return find_station(station_id) != nullptr; }

    /// Open sessions.
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return by_handle_.size();
    }

    /// Open sessions and upgrades being decided.
    std::size_t size_with_reserved() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return by_handle_.size() + reserved_.size();
    }

    std::size_t connections_from(const std::string& ip) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = per_address_.find(ip);
        return it == per_address_.end() ? 0 : it->second;
    }

    /// Every open session (a copy: call into them without the table's lock).
    std::vector<Ptr> all() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<Ptr> out;
        out.reserve(by_handle_.size());
        for (const auto& [handle, entry] : by_handle_) {
            out.push_back(entry.session);
        }
        return out;
    }

private:
    void release_locked(const Handle& handle) {
        const auto it = reserved_.find(handle);
        if (it == reserved_.end()) {
            return;
        }
        if (auto count = per_address_.find(it->second);
            count != per_address_.end() && --count->second == 0) {
            per_address_.erase(count);
        }
        reserved_.erase(it);
    }

    struct Entry {
        Ptr session;
        std::string ip;
    };
    mutable std::mutex mutex_;
    std::map<Handle, Entry, std::owner_less<Handle>> by_handle_;
    std::map<std::string, std::weak_ptr<SessionT>> by_identity_;  // lower-case identity
    std::map<Handle, std::string, std::owner_less<Handle>> reserved_;  // upgrade → address
    std::map<std::string, std::size_t> per_address_;                    // sessions and reserved
};

}  // namespace gateway::station
