#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "gateway/config.hpp"
#include "gateway/metrics.hpp"
#include "gateway/reply_policy.hpp"
#include "gateway/security.hpp"
#include "kafka_bridge/commands.hpp"
#include "kafka_bridge/producer_slot.hpp"
#include "ocpp/schema_registry.hpp"

namespace gateway {

/// websocketpp settings: asio without TLS; message size and timeouts are set per endpoint.
struct WsConfig : websocketpp::config::asio {
    static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
    static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
    /// Read buffer held by every connection (websocketpp's default is 16 KiB): OCPP frames
    /// are mostly well under 4 KiB, and with tens of thousands of idle stations this buffer
    /// is most of the memory per station. Larger frames are simply read in several parts.
    static const std::size_t connection_read_buffer_size = 4096;
};
using WsServer = websocketpp::server<WsConfig>;

/// The same over TLS (security profiles 2 and 3).
struct WssConfig : websocketpp::config::asio_tls {
    static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
    static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
    static const std::size_t connection_read_buffer_size = 4096;
};
using WssServer = websocketpp::server<WssConfig>;

/// A session's way to its WebSocket connection, whatever the transport. Thread-safe as
/// websocketpp's connection is.
class StationLink {
public:
    virtual ~StationLink() = default;
    virtual websocketpp::lib::error_code send_text(const std::string& text) = 0;
    virtual void close(websocketpp::close::status::value code, const std::string& reason) = 0;
    virtual void ping() = 0;
};

class Session;

/// What sessions tell the command machinery (implemented by CommandRouter). Thread-safe.
class CommandSink {
public:
    virtual ~CommandSink() = default;
    /// Writes the one result of `command`.
    virtual void finish(const kafka_bridge::Command& command,
                        kafka_bridge::CommandOutcome outcome) = 0;
    /// Commands a session took but could not send (its connection ended): they go to the
    /// station's newer connection, if it has one, or end NotConnected.
    virtual void hand_back(std::vector<kafka_bridge::Command> commands) = 0;
    /// A session opened: its presence is published (and its epoch set from the record).
    virtual void session_opened(const std::shared_ptr<Session>& session) = 0;
    /// A session ended; `superseded`: by a newer connection, which has published its own
    /// presence already.
    virtual void session_closed(const std::shared_ptr<Session>& session, bool superseded) = 0;
};

/// What sessions share. Lives as long as the server.
struct Services {
    const Config& config;
    const ocpp::SchemaRegistry& schemas;
    kafka_bridge::ProducerSlot& producers;
    Metrics& metrics;
    ReplyPolicy replies;
    asio::io_context& io;
    /// CALLs published and not yet answered, across sessions (for draining).
    std::atomic<std::int64_t> in_flight{0};
    /// Sessions closed whose Disconnected record is not yet handed to the producer.
    std::atomic<std::int64_t> closing{0};
    /// The command machinery; null when commands are off (tests).
    CommandSink* commands = nullptr;
    /// Raises a gateway-made security event (type, station, address, detail).
    std::function<void(std::string, std::string, std::string, std::string)> security_event = nullptr;
};

/// The station-facing WebSocket server: handshake rules (endpoint, identity, subprotocol,
/// registry, credentials, limits), one Session per connection, duplicate identities, drain.
/// Plain (profiles 0, 1) or TLS (profiles 2, 3), chosen by create().
class StationServer {
public:
    /// Throws std::runtime_error for unusable TLS settings (files, keys, suites).
    static std::unique_ptr<StationServer> create(const Config& config,
                                                 const ocpp::SchemaRegistry& schemas,
                                                 kafka_bridge::ProducerSlot& producers,
                                                 Metrics& metrics, asio::io_context& io,
                                                 StationRegistry& registry);
    virtual ~StationServer() = default;

    /// Opens the listener. Throws std::runtime_error when the address cannot be bound.
    virtual void listen() = 0;
    /// Stops accepting connections; existing sessions continue.
    virtual void stop_listening() = 0;
    /// Asks every session to end gracefully: answer what it has read, then close with 1001.
    virtual void drain_all() = 0;
    /// Closes every session now with 1001 (going away).
    virtual void close_all(const std::string& reason) = 0;
    virtual std::size_t session_count() const = 0;
    /// The open session of `station_id` (case-insensitive) on this instance, if any.
    virtual std::shared_ptr<Session> find_station(const std::string& station_id) const = 0;
    /// Connects the command machinery; call before listen().
    virtual void set_command_sink(CommandSink* sink) = 0;
    virtual std::int64_t in_flight() const = 0;
    virtual std::int64_t closing() const = 0;
    /// TLS: reloads certificates, keys and the CA bundle when a file changed (new connections
    /// use them; open ones keep theirs). Returns a problem in words, the old ones staying in
    /// use. Plain listeners: nothing to do.
    virtual std::optional<std::string> reload_tls_if_changed() { return std::nullopt; }
};

}  // namespace gateway
