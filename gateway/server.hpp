#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
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
    WsServer& ws;
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
/// allow-list, connection cap), one Session per connection, duplicate identities, drain.
class StationServer {
public:
    StationServer(const Config& config, const ocpp::SchemaRegistry& schemas,
                  kafka_bridge::ProducerSlot& producers, Metrics& metrics, asio::io_context& io,
                  StationRegistry& registry);
    ~StationServer();

    /// Opens the listener. Throws std::runtime_error when the address cannot be bound.
    void listen();
    /// Stops accepting connections; existing sessions continue.
    void stop_listening();
    /// Asks every session to end gracefully: answer what it has read, then close with 1001.
    void drain_all();
    /// Closes every session now with 1001 (going away).
    void close_all(const std::string& reason);
    std::size_t session_count() const;
    /// The open session of `station_id` (case-insensitive) on this instance, if any.
    std::shared_ptr<Session> find_station(const std::string& station_id) const;
    /// Connects the command machinery; call before listen().
    void set_command_sink(CommandSink* sink) { services_.commands = sink; }
    std::int64_t in_flight() const { return services_.in_flight.load(); }
    std::int64_t closing() const { return services_.closing.load(); }

private:
    struct Handshake;
    bool on_validate(websocketpp::connection_hdl hdl);
    void on_open(websocketpp::connection_hdl hdl);
    void on_close(websocketpp::connection_hdl hdl);
    void on_message(websocketpp::connection_hdl hdl, WsServer::message_ptr msg);
    void on_pong(websocketpp::connection_hdl hdl, const std::string& payload);
    void on_pong_timeout(websocketpp::connection_hdl hdl, const std::string& payload);
    std::shared_ptr<Session> find(const websocketpp::connection_hdl& hdl) const;
    std::optional<Handshake> inspect(WsServer::connection_ptr con, int& status,
                                     std::string& reason) const;
    /// Who may connect: registry, Basic credentials, throttles, admission, flapping. Fills
    /// the refusal (status, reason, Retry-After) and raises security events.
    bool admit(WsServer::connection_ptr con, const Handshake& handshake, const std::string& ip,
               int& status, std::string& reason, int& retry_after);
    void raise(std::string type, std::string station_id, std::string address, std::string detail);
    static std::string peer_ip(const WsServer::connection_ptr& con);

    const Config& config_;
    asio::io_context& io_;
    WsServer ws_;
    Services services_;
    mutable std::mutex mutex_;
    std::map<websocketpp::connection_hdl, std::shared_ptr<Session>,
             std::owner_less<websocketpp::connection_hdl>>
        sessions_;
    std::map<std::string, std::weak_ptr<Session>> by_identity_;  // lower-case identity
    std::atomic<std::size_t> handshakes_{0};

    StationRegistry& registry_;
    AttemptThrottle identity_failures_;
    AttemptThrottle address_failures_;
    RateLimiter admission_;
    std::map<std::string, std::size_t> per_address_;            // under mutex_
    std::map<websocketpp::connection_hdl, std::string,
             std::owner_less<websocketpp::connection_hdl>> ip_of_;  // under mutex_
    std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> replacements_;  // under mutex_
};

}  // namespace gateway
