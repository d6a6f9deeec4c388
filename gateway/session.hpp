#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "gateway/server.hpp"
#include "kafka_bridge/envelope.hpp"
#include "ocpp/inbound.hpp"
#include "ocpp/rpc_state.hpp"

namespace gateway {

/// One station connection. Everything it owns is touched only on its strand; other threads
/// get in by posting (websocketpp handlers, Kafka delivery reports, the server).
///
///  frame ─▶ parse ─▶ validate ─▶ reply policy ─▶ produce(event{request, reply}) ─┐
///    │         └────────┴──▶ CALLERROR + dead-letter                               │
///    │                                                 delivery report (poll thread)
///    │                                                           │ post
///    └─ one CALL in flight ◀── CALLRESULT(reply) on ack ◀────────┘  (InternalError on failure)
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Services& services, std::unique_ptr<StationLink> link, std::string station_id,
            ocpp::ProtocolVersion version, std::optional<std::string> subprotocol,
            std::string address);

    /// Publishes Connected and starts the keep-alive timer.
    void start();
    /// A WebSocket message arrived (any thread); `text` false for a binary message.
    void on_message(bool text, std::string payload);
    /// The connection closed (any thread).
    void on_closed(int code, std::string reason);
    /// A pong arrived (any thread).
    void on_pong();
    /// Graceful end (any thread): every CALL read so far is answered, then the session closes
    /// with 1001. Frames that arrive after the close are dropped unanswered.
    void drain();
    /// Closes the connection (any thread).
    void close(websocketpp::close::status::value code, std::string reason);
    /// A newer connection of the same station replaced this one (any thread): closes with
    /// 1008; the outstanding command ends Superseded, queued ones move to the newcomer.
    void supersede(std::string reason);
    /// Queues an operator command for the station (any thread); see docs/commands.md.
    void deliver(kafka_bridge::Command command);

    const std::string& station_id() const { return info_.station_id; }
    const std::string& session_id() const { return info_.session_id; }
    ocpp::ProtocolVersion version() const { return info_.version; }
    const std::string& since() const { return since_; }
    /// The peer's IP address (without port), for security events. Set before start().
    void set_peer_ip(std::string ip) { peer_ip_ = std::move(ip); }
    /// The offset of this connection's presence record; -1 until Kafka has it.
    std::int64_t epoch() const { return epoch_.load(); }
    void set_epoch(std::int64_t epoch) { epoch_ = epoch; }

private:
    struct Pending {
        ocpp::MessageId id;
        std::string action;
        ocpp::EventClass event_class;
        nlohmann::json reply;
        kafka_bridge::Record record;
        std::chrono::steady_clock::time_point started;
    };

    void handle_text(std::string text);
    void handle_call(ocpp::Call call, const std::string& raw, const std::string& received_at);
    void handle_response(const ocpp::MessageId& id, const ocpp::Frame& frame,
                         const std::string& raw, const std::string& received_at);
    void pump_commands();
    void on_command_timeout();
    /// Ends the outstanding command with `outcome` and sends the next.
    void finish_command(kafka_bridge::CommandOutcome outcome);
    void publish(ocpp::AcceptedCall accepted, std::optional<std::int64_t> transaction_id,
                 const std::string& received_at);
    void request_transaction_id(ocpp::AcceptedCall accepted, std::string received_at);
    void produce(std::shared_ptr<Pending> pending);
    void on_delivery(const std::shared_ptr<Pending>& pending, const kafka_bridge::Delivery& d,
                     ReplyMode mode);
    void reject(const ocpp::Rejection& rejection, const std::string& raw,
                const std::string& received_at, std::optional<std::string> action);
    void finish_call(const ocpp::MessageId& id);
    /// Answers InternalError: the call was not stored, the station must send it again.
    void fail_call(const ocpp::MessageId& id, const std::string& action);
    void send(const std::string& text);
    void publish_side_record(const std::string& topic, std::string value);
    void schedule_keepalive();
    void retry_blocked_later();
    void close_if_drained();

    Services& services_;
    std::unique_ptr<StationLink> link_;
    kafka_bridge::SessionInfo info_;
    std::optional<std::string> subprotocol_;
    std::string address_;
    asio::io_context::strand strand_;
    asio::steady_timer keepalive_;
    asio::steady_timer retry_;
    asio::steady_timer command_timer_;
    std::string since_;
    std::string peer_ip_;
    std::atomic<std::int64_t> epoch_{-1};
    RateLimiter messages_;       // strand-only use; its own lock is uncontended
    bool rate_reported_ = false;  // one security event per session

    // Strand-only state.
    ocpp::RpcState rpc_;
    std::uint64_t sequence_ = 0;
    std::uint64_t published_ = 0;
    bool closed_ = false;
    std::atomic<bool> closing_{false};  // we sent a close: frames read from now on are dropped
    bool draining_ = false;
    std::deque<std::shared_ptr<Pending>> blocked_;  // waiting for room in the producer queue
    std::chrono::steady_clock::time_point opened_at_;
    std::chrono::steady_clock::time_point last_activity_;

    // Operator commands, strand-only: FIFO, one CALL outstanding.
    struct Outstanding {
        kafka_bridge::Command command;
        std::string message_id;
        std::string sent_at;
    };
    std::deque<kafka_bridge::Command> commands_;
    std::optional<Outstanding> outstanding_;
    bool superseded_ = false;
};

}  // namespace gateway
