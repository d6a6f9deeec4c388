#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ocpp/types.hpp"

namespace gateway::station {

/// The open sessions of one listener: by connection handle, by tenant and identity
/// (case-insensitive), and the count per peer address and per tenant. The only owner of these
/// maps. Thread-safe.
///
/// `SessionT` needs `station_id()` and `tenant()` (empty without tenants: one station of an
/// identity per tenant); the handle is websocketpp's connection_hdl (a weak pointer to the
/// connection).
template <class SessionT>
class SessionTable {
public:
    using Handle = std::weak_ptr<void>;
    using Ptr = std::shared_ptr<SessionT>;

    /// Counts the upgrade of `handle` from `ip` for `tenant` against its address and tenant
    /// before it is decided, so that upgrades racing each other (or a connection whose open is
    /// still being reported) cannot exceed a limit. Returns the connections of `ip` counted
    /// now, this one included. Undone by add() (it becomes the session's), release() or
    /// remove().
    std::size_t reserve(const Handle& handle, const std::string& ip, const std::string& tenant = {}) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (reserved_.emplace(handle, Place{ip, tenant}).second) {
            ++per_address_[ip];
            ++per_tenant_[tenant];
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
        ++per_tenant_[session->tenant()];
        auto& slot = by_identity_[identity_key(session->tenant(), session->station_id())];
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
        count_down(per_address_, entry.ip);
        count_down(per_tenant_, entry.session->tenant());
        const auto id = by_identity_.find(identity_key(entry.session->tenant(), entry.session->station_id()));
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

    /// The current session of `station_id` (case-insensitive) of `tenant`, if any.
    Ptr find_station(const std::string& station_id, const std::string& tenant = {}) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = by_identity_.find(identity_key(tenant, station_id));
        return it == by_identity_.end() ? nullptr : it->second.lock();
    }

    bool has_station(const std::string& station_id, const std::string& tenant = {}) const {
        return find_station(station_id, tenant) != nullptr;
    }

    /// Open sessions and upgrades being decided of `tenant`.
    std::size_t tenant_size(const std::string& tenant) const {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = per_tenant_.find(tenant);
        return it == per_tenant_.end() ? 0 : it->second;
    }

    /// Open sessions.
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return by_handle_.size();
    }

    /// Upgrades being decided or accepted and not yet open.
    std::size_t reserved() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return reserved_.size();
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
        count_down(per_address_, it->second.ip);
        count_down(per_tenant_, it->second.tenant);
        reserved_.erase(it);
    }

    static void count_down(std::map<std::string, std::size_t>& counts, const std::string& key) {
        if (auto count = counts.find(key); count != counts.end() && --count->second == 0) {
            counts.erase(count);
        }
    }

    /// Tenant names have no '/', identities neither: "tenant/identity" names one station.
    static std::string identity_key(const std::string& tenant, const std::string& station_id) {
        return tenant.empty() ? ocpp::ascii_lower(station_id) : tenant + "/" + ocpp::ascii_lower(station_id);
    }

    struct Entry {
        Ptr session;
        std::string ip;
    };
    struct Place {
        std::string ip;
        std::string tenant;
    };
    mutable std::mutex mutex_;
    std::map<Handle, Entry, std::owner_less<Handle>> by_handle_;
    std::map<std::string, std::weak_ptr<SessionT>> by_identity_;  // identity_key()
    std::map<Handle, Place, std::owner_less<Handle>> reserved_;  // upgrade → address, tenant
    std::map<std::string, std::size_t> per_address_;              // sessions and reserved
    std::map<std::string, std::size_t> per_tenant_;               // sessions and reserved
};

}  // namespace gateway::station
