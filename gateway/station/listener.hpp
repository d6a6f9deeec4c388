#pragma once

#include <asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/metrics/metrics.hpp"
#include "gateway/security/events.hpp"
#include "gateway/session/tolerance.hpp"
#include "gateway/session/transaction_id_guard.hpp"
#include "gateway/decisions/token_table.hpp"
#include "gateway/security/registry.hpp"
#include "gateway/session/services.hpp"
#include "kafka_bridge/producer_slot.hpp"
#include "ocpp/schema_registry.hpp"

namespace gateway::station {

/// What one tenant brings to the listener: its configuration (tenant_config(), whose topics
/// its sessions write), registry, token table and security events. Without tenants there is
/// one, named "", with the gateway's own configuration.
struct TenantParts {
    const config::Config& config;
    /// The producers of its cluster (the gateway's, or its own).
    kafka_bridge::ProducerSlot& producers;
    std::string name;
    std::size_t max_stations = 0;  ///< its stations on this instance; 0: no limit of its own
    security::StationRegistry& registry;
    const decisions::TokenTable& tokens;
    security::EventSink& events;
    /// Its schema refusals per station model, for the periodic report.
    session::ViolationTally& violations;
    /// Its transaction-id topic's end offset at start-up (TransactionIdGuard::start).
    std::int64_t transaction_ids_end = 0;
};

/// A tenant's figures for /metrics.
struct TenantStats {
    std::string name;
    std::size_t stations = 0;        ///< connected now (and upgrades being decided)
    std::uint64_t messages = 0;      ///< WebSocket messages received
    std::uint64_t connections = 0;   ///< connections opened
    std::uint64_t refused = 0;       ///< upgrades refused once the tenant was known
};

/// The station-facing WebSocket listener: handshake rules (endpoint, tenant, identity,
/// subprotocol), admission (registry, credentials, limits), one Session per connection,
/// duplicate identities, drain. Plain (profiles 0, 1) or TLS (profiles 2, 3), chosen by
/// create().
class Listener {
public:
    /// `config` is the gateway's; `tenants` as many as config.tenants, in their order (one
    /// when there are none); `events` takes the security events no tenant can be named for
    /// (a certificate refused before the request was read). `contexts`: the I/O threads' own
    /// contexts, at least one, each run by one thread; connections are dealt out to them in
    /// turn and stay on theirs, and the first also runs the accept loop. Throws
    /// std::runtime_error for unusable TLS settings (files, keys, suites).
    static std::unique_ptr<Listener> create(const config::Config& config,
                                            const ocpp::SchemaRegistry& schemas,
                                            metrics::Metrics& metrics,
                                            const std::vector<asio::io_context*>& contexts,
                                            const std::vector<TenantParts>& tenants,
                                            security::EventSink& events);
    virtual ~Listener() = default;

    /// The open sessions of tenant `tenant` (an index into the tenants given to create()).
    virtual const session::SessionLookup& stations_of(std::size_t tenant) const = 0;
    /// Per tenant, in their order.
    virtual std::vector<TenantStats> tenant_stats() const = 0;
    /// Which 1.6 transaction ids tenant `tenant`'s sessions may give.
    virtual session::TransactionIdGuard& transaction_ids(std::size_t tenant) = 0;

    /// Opens the listener. Throws std::runtime_error when the address cannot be bound.
    virtual void listen() = 0;
    /// Stops accepting connections; existing sessions continue.
    virtual void stop_listening() = 0;
    /// Asks every session to end gracefully: answer what it has read, then close with 1001.
    virtual void drain_all() = 0;
    /// Closes every session now with 1001 (going away).
    virtual void close_all(const std::string& reason) = 0;
    virtual std::size_t session_count() const = 0;
    /// Upgrades accepted by validation and not yet open (or refused, or failed).
    virtual std::size_t upgrading() const = 0;
    /// Connects a tenant's command machinery; call before listen().
    virtual void set_command_sink(std::size_t tenant, session::CommandSink* sink) = 0;
    /// Ask mode: where a tenant's token questions wait for the operator's decision (before
    /// listen()). One table per tenant: a decision on one tenant's topic answers its own.
    virtual void set_ask_table(std::size_t tenant, decisions::AskTable* asks) = 0;
    /// Station CALLs published and not yet answered.
    virtual std::int64_t in_flight() const = 0;
    /// Sessions closed whose Disconnected record is not yet queued.
    virtual std::int64_t closing() const = 0;
    /// TLS: reloads certificates, keys and the CA bundle when a file changed (new connections
    /// use them; open ones keep theirs). Returns a problem in words, the old ones staying in
    /// use. Plain listeners: nothing to do.
    virtual std::optional<std::string> reload_tls_if_changed() { return std::nullopt; }
};

}  // namespace gateway::station
