#pragma once

#include <asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gateway/config/config.hpp"
#include "gateway/metrics/metrics.hpp"
#include "gateway/security/events.hpp"
#include "gateway/decisions/token_table.hpp"
#include "gateway/security/registry.hpp"
#include "gateway/session/services.hpp"
#include "kafka_bridge/producer_slot.hpp"
#include "ocpp/schema_registry.hpp"

namespace gateway::station {

/// The station-facing WebSocket listener: handshake rules (endpoint, identity, subprotocol),
/// admission (registry, credentials, limits), one Session per connection, duplicate
/// identities, drain. Plain (profiles 0, 1) or TLS (profiles 2, 3), chosen by create().
class Listener : public session::SessionLookup {
public:
    /// Throws std::runtime_error for unusable TLS settings (files, keys, suites).
    static std::unique_ptr<Listener> create(const config::Config& config,
                                            const ocpp::SchemaRegistry& schemas,
                                            kafka_bridge::ProducerSlot& producers,
                                            metrics::Metrics& metrics, asio::io_context& io,
                                            security::StationRegistry& registry,
                                            const decisions::TokenTable& tokens,
                                            security::EventSink& events);
    ~Listener() override = default;

    /// Opens the listener. Throws std::runtime_error when the address cannot be bound.
    virtual void listen() = 0;
    /// Stops accepting connections; existing sessions continue.
    virtual void stop_listening() = 0;
    /// Asks every session to end gracefully: answer what it has read, then close with 1001.
    virtual void drain_all() = 0;
    /// Closes every session now with 1001 (going away).
    virtual void close_all(const std::string& reason) = 0;
    virtual std::size_t session_count() const = 0;
    /// Connects the command machinery; call before listen().
    virtual void set_command_sink(session::CommandSink* sink) = 0;
    /// Ask mode: where token questions wait for the operator's decision (before listen()).
    virtual void set_ask_table(decisions::AskTable* asks) = 0;
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
