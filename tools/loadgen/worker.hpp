#pragma once

#include "tools/loadgen/ws_client.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <type_traits>
#include <string>
#include <vector>

#include "ocpp/version.hpp"
#include "tools/loadgen/options.hpp"
#include "tools/loadgen/payloads.hpp"
#include "tools/loadgen/report.hpp"
#include "tools/loadgen/target.hpp"
#include "tools/loadgen/tls.hpp"

namespace loadgen {

using Clock = std::chrono::steady_clock;

/// Progress the workers publish to the controlling thread.
struct Shared {
    /// Stations whose ramp-up is over: booted, or failed to connect or boot.
    std::atomic<std::size_t> settled{0};
    /// Stations connected and booted (Accepted).
    std::atomic<std::size_t> ready{0};
    /// Connections open right now.
    std::atomic<std::size_t> open{0};
    /// Workers that sent their last CALL and saw every measured CALL answered or timed out.
    std::atomic<unsigned> finished{0};
    /// Storm: stations done with the way back (first CALL answered or timed out, or failed).
    std::atomic<std::size_t> storm_done{0};
};

/// What the controlling thread does with a worker, whatever its transport.
class WorkerBase {
public:
    virtual ~WorkerBase() = default;

    /// Runs the io_context until stop(). Call on the worker's own thread.
    virtual void run() = 0;
    /// Opens the connections, paced so the whole run opens --connect-rate per second from
    /// `start`. Every station boots as soon as it is connected.
    virtual void start_connecting(Clock::time_point start) = 0;
    /// Starts the open-loop traffic: warm-up from `t0`, then the measured window.
    virtual void start_traffic(Clock::time_point t0) = 0;
    /// Storm: drops every connection at once (TCP reset, no close handshake) and connects
    /// the stations again, paced as in the ramp-up from `reconnect_start`.
    virtual void drop_and_reconnect(Clock::time_point reconnect_start) = 0;
    /// Closes every connection (normal closure).
    virtual void close_all() = 0;
    /// Stops the io_context.
    virtual void stop() = 0;

    /// Valid once run() has returned.
    ConnectionStats& connections() { return connections_; }
    CallStats& calls() { return calls_; }
    Oddities& oddities() { return oddities_; }
    StormStats& storm() { return storm_; }

protected:
    ConnectionStats connections_;
    CallStats calls_;
    Oddities oddities_;
    StormStats storm_;
};

/// One I/O thread and the stations it owns: station i of the run belongs to worker
/// i % threads. Everything of a worker happens on its own io_context; the controlling thread
/// only posts to it and reads its statistics after run() has returned.
template <typename Config>
class Worker final : public WorkerBase {
public:
    using Client = ClientOf<Config>;
    static constexpr bool kTls = std::is_same_v<Config, TlsConfig>;

    Worker(const Options& options, const std::vector<Target>& targets,
           const TlsClientSetup* tls, unsigned index, Shared& shared);
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    void run() override;
    void start_connecting(Clock::time_point start) override;
    void start_traffic(Clock::time_point t0) override;
    void drop_and_reconnect(Clock::time_point reconnect_start) override;
    void close_all() override;
    void stop() override;

private:
    struct Station {
        enum class State : std::uint8_t { pending, connecting, booting, ready, failed, closed };
        std::string id;
        std::string url;
        const Target* target = nullptr;  ///< the gateway it connects to
        std::size_t number = 0;  ///< 1-based over the whole run
        ocpp::ProtocolVersion version = ocpp::ProtocolVersion::v16;
        typename Client::connection_ptr con;
        /// Counts this station's connections: handlers of an earlier one are ignored.
        std::uint32_t generation = 0;
        std::uint32_t connect_failures = 0;
        State state = State::pending;
        bool settled = false;
        bool open = false;
        // The open CALL.
        bool waiting = false;
        bool measured = false;
        bool boot = false;
        bool first = false;  ///< the storm's first CALL after booting again
        bool storm_finished = false;
        std::uint32_t boots_sent = 0;
        Clock::time_point connect_scheduled;
        TlsSession tls_session;
        std::uint64_t seq = 0;  ///< number of the last CALL sent; its message id
        Clock::time_point scheduled;
        // Payload state.
        Meter meter;
        std::uint32_t status_step = 0;
    };

    struct Deadline {
        std::uint32_t station;
        std::uint64_t seq;
        Clock::time_point at;
    };

    void connect_tick();
    void open_connection(std::uint32_t j);
    void on_open(std::uint32_t j);
    void on_fail(std::uint32_t j);
    void on_close(std::uint32_t j);
    void on_message(std::uint32_t j, const std::string& text);
    bool connect_failed(std::uint32_t j, Clock::time_point now);
    void storm_booted(std::uint32_t j, Clock::time_point now);
    void storm_done(std::uint32_t j);
    void settle(std::uint32_t j, bool ready);
    void send_boot(std::uint32_t j);
    void boot_failed(std::uint32_t j, Clock::time_point now);
    bool send_call(std::uint32_t j, Action action, Clock::time_point scheduled, bool measured,
                   bool boot);
    /// The CALL frame's text, `id` its message id.
    std::string frame_for(Station& st, Action action, const std::string& id);
    void send_tick();
    void dispatch(Clock::time_point scheduled);
    Clock::time_point send_time(std::uint64_t i) const;
    void housekeeping();
    void arm_housekeeping();
    void maybe_finish();

    const Options& options_;
    const TlsClientSetup* const tls_;
    const unsigned index_;
    const unsigned count_;
    Shared& shared_;

    // Declared before everything holding handlers or sockets, so it is destroyed last.
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    Client client_;
    asio::steady_timer connect_timer_;
    asio::steady_timer send_timer_;
    asio::steady_timer housekeeping_timer_;

    std::vector<Station> stations_;
    std::deque<std::uint32_t> free_;       ///< booted stations with no open CALL, FIFO
    std::deque<Deadline> deadlines_;       ///< open CALLs in send order
    std::deque<Deadline> boot_retries_;    ///< BootNotifications to send again, in time order
    std::deque<Deadline> connect_retries_; ///< connections to try again (seq: generation)
    Xorshift rng_;

    Clock::time_point connect_start_;
    std::size_t next_connect_ = 0;

    bool traffic_ = false;
    bool sending_done_ = false;
    bool finished_ = false;
    bool closing_ = false;
    bool storm_phase_ = false;
    /// The station whose connection is being created (read by the TLS socket set-up).
    std::uint32_t preparing_ = 0;
    Clock::time_point t0_;
    Clock::time_point window_start_;
    Clock::time_point window_end_;
    std::uint64_t next_send_ = 0;
    std::uint64_t measured_open_ = 0;
};

}  // namespace loadgen
