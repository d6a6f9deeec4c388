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

    /// Adds the session of `handle` from `ip`. Returns the session of the same identity it
    /// replaces, if any (the caller supersedes it).
    Ptr add(const Handle& handle, Ptr session, const std::string& ip) {
        std::lock_guard<std::mutex> lock(mutex_);
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

    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return by_handle_.size();
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
    struct Entry {
        Ptr session;
        std::string ip;
    };
    mutable std::mutex mutex_;
    std::map<Handle, Entry, std::owner_less<Handle>> by_handle_;
    std::map<std::string, std::weak_ptr<SessionT>> by_identity_;  // lower-case identity
    std::map<std::string, std::size_t> per_address_;
};

}  // namespace gateway::station
