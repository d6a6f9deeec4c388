#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include <asio/bind_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/defer.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "gateway/security/throttle.hpp"
#include "gateway/session/command_checks.hpp"
#include "gateway/session/command_queue.hpp"
#include "gateway/session/in_flight.hpp"
#include "gateway/session/services.hpp"
#include "kafka_bridge/envelope.hpp"
#include "ocpp/inbound.hpp"
#include "ocpp/rpc_state.hpp"

namespace gateway::session {

/// One station connection. Everything it owns is touched only on its I/O thread (executor_:
/// the connection's context, which has that one thread); other threads get in by posting
/// (Kafka delivery reports, the command router, the decision tables).
///
/// Station calls (station_calls.cpp):
///
///  frame ─▶ parse ─▶ validate ─▶ reply policy ─▶ produce(event{request, reply}) ─┐
///    │         └────────┴──▶ CALLERROR + dead-letter                               │
///    │                                                 delivery report (poll thread)
///    │                                                           │ post
///    └─ one CALL in flight ◀── CALLRESULT(reply) on ack ◀────────┘  (InternalError on failure)
///
/// Operator commands (session.cpp): deliver ─▶ CommandQueue ─▶ CALL ─▶ answer | timeout |
/// close ─▶ CommandSink::finish, one result each.
class Session : public std::enable_shared_from_this<Session> {
public:
    /// The status of the last BootNotification answer this connection sent.
    enum class BootState : std::uint8_t { none, accepted, pending, rejected };

    /// `io` is the context of the connection's I/O thread, run by that thread alone (the
    /// session's handlers and timers live there too); `address` is the peer's endpoint (for connection records), `peer_ip`
    /// its bare IP (for security events).
    Session(Services& services, asio::io_context& io, std::unique_ptr<StationLink> link,
            std::string station_id, ocpp::ProtocolVersion version,
            std::optional<std::string> subprotocol, std::string address, std::string peer_ip);

    /// Before start(): this connection's ping interval (the station's registry entry may set
    /// one; 0: no pings). Otherwise limits.ping_interval_s.
    void set_ping_interval(std::chrono::seconds interval) { ping_interval_ = interval; }
    /// How long a silence closes this session: limits.idle_timeout_s, but never less than two
    /// ping intervals with pings, and without them never less than one and a half of the
    /// interval its last BootNotification answer told it (before one on this connection, the
    /// heartbeat interval it would be told: ReplyPolicy::heartbeat_interval), so a station
    /// keeping the interval it was told, or answering pings, is never closed as idle.
    std::chrono::seconds idle_bound() const;
    /// Publishes Connected and starts the keep-alive timer.
    void start();
    /// A WebSocket message arrived (any thread); `text` false for a binary message.
    void on_message(bool text, std::string payload);
    /// The connection closed (any thread).
    void on_closed(int code, std::string reason);
    /// A pong arrived (any thread).
    void on_pong();
    /// A ping arrived (on the connection's thread): whether to answer it with a pong. Not
    /// when the station is not reading what it was sent (see send_stalled).
    bool on_ping();
    /// Graceful end (any thread): every CALL read so far is answered, then the session closes
    /// with 1001. Frames that arrive after the close are dropped unanswered.
    void drain();
    /// Closes the connection (any thread).
    void close(CloseCode code, std::string reason);
    /// A newer connection of the same station replaced this one (any thread): closes with
    /// 1008; the outstanding command ends Superseded, queued ones move to the newcomer.
    void supersede(std::string reason);
    /// Queues an operator command for the station (any thread); see docs/commands.md.
    void deliver(kafka_bridge::Command command);

    const std::string& station_id() const { return info_.station_id; }
    /// Its tenant's name; empty when the gateway serves no tenants.
    const std::string& tenant() const { return services_.tenant; }
    const std::string& session_id() const { return info_.session_id; }
    ocpp::ProtocolVersion version() const { return info_.version; }
    const std::string& since() const { return since_; }
    /// The offset of this connection's presence record; -1 until Kafka has it.
    std::int64_t epoch() const { return epoch_.load(); }
    void set_epoch(std::int64_t epoch) { epoch_ = epoch; }
    BootState boot_state() const { return boot_state_.load(); }

private:
    /// A station CALL being published: counted in flight until it is answered or given up.
    struct Pending {
        ocpp::MessageId id;
        std::string action;
        ocpp::EventClass event_class;
        std::string reply;  ///< JSON text
        kafka_bridge::Record record;
        std::chrono::steady_clock::time_point started;
        InFlight token;
        /// A BootNotification's answer: the state the session is in once it is sent, and the
        /// interval it tells the station (heartbeat, or when to boot again).
        BootState boot = BootState::none;
        std::chrono::seconds interval{0};
        /// Unix ms: when the gateway received the CALL, and the station's own timestamp.
        std::int64_t received_ms = 0;
        std::optional<std::int64_t> station_ms;
        /// A 2.1 SEND: recorded, never answered.
        bool send = false;
    };
    /// A call whose token question waits for the operator's decision (asks.cpp).
    struct Asking {
        ocpp::AcceptedCall call;
        std::optional<std::int64_t> transaction_id;
        std::string received_at;
        InFlight token;
        std::string request_id;
        std::chrono::steady_clock::time_point asked_at;
        asio::steady_timer deadline;
    };
    /// A call read while a token question is open or a transaction number is asked for:
    /// published after that call, in the station's order (release_held).
    struct Held {
        ocpp::AcceptedCall call;
        std::optional<std::int64_t> transaction_id;
        std::string received_at;
        InFlight token;
        /// When it was read (a StartTransaction's wait for room counts from here).
        std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
    };
    /// An accepted StartTransaction waiting for its transaction id.
    struct Numbering {
        ocpp::AcceptedCall call;
        InFlight token;
        std::string received_at;
        /// Since when it waits for its number (a full queue fails it after the delivery timeout).
        std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
    };

    // Station calls (station_calls.cpp).
    void handle_text(std::string text);
    void handle_call(ocpp::Call call, const std::string& raw, const std::string& received_at);
    /// OCPP 2.1: a SEND is checked and published like a CALL, and never answered.
    void handle_send(ocpp::Send send, const std::string& raw, const std::string& received_at);
    /// OCPP 2.1: the station could not process one of the gateway's CALLRESULTs.
    void handle_result_error(const ocpp::CallResultError& error, const std::string& raw,
                             const std::string& received_at);
    /// Whether one more message fits the station's rate; counts and reports one that does not.
    bool within_rate(const ocpp::MessageId& id, const std::optional<std::string>& action, bool answerable,
                     const std::string& raw, const std::string& received_at);
    /// A record the producer refused for now waits in the session and is offered again
    /// (retry_blocked_later): its queue is full, or it failed fatally and the ProducerSlot is
    /// replacing it.
    static bool refused_for_now(const kafka_bridge::Error& error);
    /// Asks Kafka for the number of a 1.6 StartTransaction (numbering.cpp); the calls read
    /// until it is published wait in held_ (numbering_).
    void request_transaction_id(std::shared_ptr<Numbering> numbering);
    /// Writes the transaction-id record (or, the queue full, waits in blocked_numbering_).
    void produce_numbering(std::shared_ptr<Numbering> numbering);
    /// The StartTransaction waiting for its number could not get one (answered with a
    /// CALLERROR): the calls held behind it go on.
    void numbering_failed(const ocpp::Call& call);
    /// Publishes the calls held behind an asked or numbered call, in order, until one of
    /// them asks or waits for its number in turn.
    void release_held();
    void publish(ocpp::AcceptedCall accepted, std::optional<std::int64_t> transaction_id,
                 const std::string& received_at, InFlight token,
                 const ReplyPolicy::Asked* asked = nullptr);

    // Ask mode (asks.cpp).
    void ask(ocpp::AcceptedCall accepted, std::optional<std::int64_t> transaction_id,
             const std::string& received_at, InFlight token, const ReplyPolicy::Question& question);
    void on_asked(const std::shared_ptr<Asking>& asking,
                  std::optional<decisions::TokenEntry> decision);
    void produce(std::shared_ptr<Pending> pending);
    void on_delivery(const std::shared_ptr<Pending>& pending, const kafka_bridge::Delivery& d,
                     config::ReplyMode mode);
    void reject(const ocpp::Rejection& rejection, const std::string& raw,
                const std::string& received_at, std::optional<std::string> action);
    /// Tolerance profiles (repairs.cpp): takes the model a BootNotification names and
    /// matches the profiles again.
    void learn_model(const nlohmann::json& boot_payload);
    /// The call in `raw`, repaired as this station's profile allows, when that makes it
    /// valid; nullopt otherwise (the caller sends `rejection`).
    std::optional<ocpp::AcceptedCall> repair(const std::string& raw, const ocpp::Rejection& rejection,
                                             ocpp::Rpc as = ocpp::Rpc::call);
    /// For a CALL refused for its schema: which repairs would apply and whether they would
    /// make it valid (the dead letter's wouldRepair, the per-model violation counts).
    void diagnose(const std::string& raw, kafka_bridge::DeadLetter& letter);
    void finish_call(const ocpp::MessageId& id);
    /// Answers InternalError: the call was not stored, the station must send it again.
    void fail_call(const ocpp::MessageId& id, const std::string& action,
                   const char* description = "could not store the message; try again");
    /// The end of a published message: its CALL settled, or (SEND) just counted.
    /// `error` (when known) says why: a record too large for Kafka is answered as such.
    void fail_pending(const Pending& pending, const kafka_bridge::Error* error = nullptr);
    /// Counts a record Kafka did not take whose station will not send it again: answered at
    /// once (immediate mode) or a SEND. Callable without the session (it may be gone).
    static void count_lost(Services& services, ocpp::ProtocolVersion version,
                           const Pending& pending, config::ReplyMode mode);
    /// The SENDs among the records waiting for room in the producer queue (blocked_sends) and
    /// behind a token question (held_sends); at most kMaxBlockedSends each.
    std::size_t blocked_sends() const;
    std::size_t held_sends() const;
    void finish_pending(const Pending& pending);
    /// Sends the CALLRESULT of a published call.
    void answer(const Pending& pending);
    /// Freshness of an acknowledged event (docs/contract.md); on the producer's thread.
    static void record_freshness(Services& services, const Pending& pending);
    /// Counts a station timestamp off the gateway's clock; raises StationClockOff once.
    void check_station_clock(std::int64_t station_ms, std::int64_t received_ms,
                             std::string_view action);
    void retry_blocked_later();

    // Commands and lifecycle (session.cpp).
    void handle_response(const ocpp::MessageId& id, const ocpp::Frame& frame,
                         const std::string& raw, const std::string& received_at);
    void pump_commands();
    void on_command_timeout(const ocpp::MessageId& id);
    /// Ends the outstanding command with `outcome` (filled in with what was sent).
    void finish_command(CommandQueue::Outstanding done, kafka_bridge::CommandOutcome outcome);
    void end_commands(int code, const std::string& reason);
    void send(const std::string& text);
    /// Whether more than 4 × limits.max_message_bytes (at least 1 MiB) waits unsent for the
    /// station, besides the `just_queued` bytes of the frame just queued: it is not reading,
    /// and everything answered to it would pile up in memory until the pong timeout. The
    /// connection is then closed (1008, once).
    bool send_stalled(std::size_t just_queued = 0);
    void publish_side_record(const std::string& topic, std::string value);
    void schedule_keepalive();
    void close_if_drained();

    Services& services_;
    std::unique_ptr<StationLink> link_;
    kafka_bridge::SessionInfo info_;
    std::optional<std::string> subprotocol_;
    std::string address_;
    /// The context of the connection's I/O thread. Each context has exactly one thread, so
    /// what runs here runs one at a time without a strand (a strand's lock and extra hand-over
    /// cost a fifth of a heartbeat's CPU: docs/benchmarks.md, "Without strands").
    asio::io_context::executor_type executor_;
    asio::steady_timer keepalive_;
    std::chrono::seconds ping_interval_;
    asio::steady_timer retry_;
    asio::steady_timer command_timer_;
    std::string since_;
    std::string peer_ip_;
    std::atomic<std::int64_t> epoch_{-1};
    std::atomic<BootState> boot_state_{BootState::none};
    /// The interval the last BootNotification answer on this connection told the station, or
    /// that it agreed to since in an operator's ChangeConfiguration / SetVariables;
    /// 0: none yet (idle_bound() estimates it).
    std::chrono::seconds told_interval_{0};
    security::RateLimiter messages_;  // I/O-thread-only use; its own lock is uncontended
    bool rate_reported_ = false;      // one security event per session

    // I/O-thread-only state.
    ocpp::RpcState rpc_;
    CommandQueue commands_;
    std::uint64_t sequence_ = 0;
    std::uint64_t published_ = 0;
    bool closed_ = false;
    /// A StationClockOff security event was raised for this connection.
    bool clock_reported_ = false;
    bool stalled_ = false;      // send_stalled() closed the connection
    std::string close_reason_;  // why we closed it, when we did
    std::atomic<bool> closing_{false};  // we sent a close: frames read from now on are dropped
    bool draining_ = false;
    bool superseded_ = false;
    // Waiting for room in the producer queue; a list, since an empty std::deque allocates over
    // half a kilobyte and every idle station would pay it.
    std::list<std::shared_ptr<Pending>> blocked_;
    /// The 1.6 StartTransaction whose transaction-id record waits for room in the queue (one
    /// at most: numbers are asked for one at a time, see numbering_).
    std::shared_ptr<Numbering> blocked_numbering_;
    /// A token question is open (asks.cpp), or a 1.6 StartTransaction waits for its
    /// transaction number: calls read meanwhile wait in `held_`, so that their records follow
    /// that call's (max_pending_calls > 1). release_held() goes on once it is published.
    bool asking_ = false;
    bool numbering_ = false;
    std::list<Held> held_;
    /// The tolerance profile this station matches (null: strict) and what it booted as
    /// (null until known).
    const config::ToleranceProfile* tolerance_ = nullptr;
    std::unique_ptr<StationModel> model_;
    std::chrono::steady_clock::time_point opened_at_;
    std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace gateway::session
