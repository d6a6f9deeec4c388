#pragma once

#include <asio/bind_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "gateway/log/log.hpp"

namespace gateway::station {

/// The station port's accept loop, for websocketpp server type `Server`.
///
/// websocketpp's own loop re-arms the acceptor from whichever I/O thread ran the previous
/// accept, with no lock: closing the acceptor from another thread (the start of a drain) races
/// with that re-arm, and asio sockets are not safe for concurrent use (a closed acceptor's
/// reactor state is null while the re-arm still sees it open). Here every operation on the
/// acceptor runs on one strand, so stop() cannot meet an accept half-way. A failed accept
/// (no file descriptor left, no buffer space) pauses the loop instead of spinning on it.
template <class Server>
class Acceptor {
public:
    Acceptor(asio::io_context& io, Server& server)
        : server_(server), strand_(asio::make_strand(io)), acceptor_(strand_),
          pause_(strand_) {}

    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    /// Binds and listens (throws with `what` naming the address on failure), then accepts
    /// once the I/O threads run.
    void listen(const asio::ip::tcp::endpoint& at, int backlog, const std::string& what) {
        std::error_code ec;
        acceptor_.open(at.protocol(), ec);
        if (!ec) {
            acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        }
        if (!ec) {
            acceptor_.bind(at, ec);
        }
        if (!ec) {
            acceptor_.listen(backlog, ec);
        }
        if (ec) {
            std::error_code ignored;
            acceptor_.close(ignored);
            throw std::runtime_error("cannot listen on " + what + ": " + ec.message());
        }
        local_ = acceptor_.local_endpoint(ec);
        asio::post(strand_, [this] { accept_next(); });
    }

    /// The address bound (the port the system chose for port 0).
    const asio::ip::tcp::endpoint& local_endpoint() const { return local_; }

    /// Closes the port: connections not yet accepted are refused by the kernel; accepted
    /// ones are not touched. Returns once it is closed (on the strand when I/O threads run).
    void stop() {
        auto done = std::make_shared<std::promise<void>>();
        auto closed = done->get_future();
        asio::post(strand_, [this, done] {
            close();
            done->set_value();
        });
        if (closed.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
            close();  // no I/O thread runs (a start-up failure): nothing else touches it
        }
    }

private:
    void close() {
        stopped_ = true;
        pause_.cancel();
        std::error_code ignored;
        acceptor_.close(ignored);
    }

    void accept_next() {
        if (stopped_) {
            return;
        }
        typename Server::connection_ptr con = server_.get_connection();
        if (!con) {
            log::error("station listener: cannot create a connection; accepting again in 1 s");
            pause(std::chrono::seconds(1));
            return;
        }
        acceptor_.async_accept(con->get_raw_socket(),
                               asio::bind_executor(strand_, [this, con](const std::error_code& ec) {
                                   on_accept(con, ec);
                               }));
    }

    void on_accept(const typename Server::connection_ptr& con, const std::error_code& ec) {
        if (!ec) {
            // The connection's own handlers run on its context's one thread from here on.
            asio::post(con->context().get_executor(), [con] { con->start(); });
            accept_next();
            return;
        }
        // Never started: websocketpp frees a connection only this way.
        asio::post(con->context().get_executor(), [con, ec] { con->terminate(ec); });
        if (stopped_ || ec == asio::error::operation_aborted) {
            return;
        }
        // Out of file descriptors or memory: accepting at once would fail again at once.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_warning_ >= std::chrono::seconds(10)) {
            last_warning_ = now;
            log::warn("station listener: accept failed ({}); pausing 100 ms between attempts",
                      ec.message());
        }
        pause(std::chrono::milliseconds(100));
    }

    void pause(std::chrono::milliseconds delay) {
        pause_.expires_after(delay);
        pause_.async_wait([this](const std::error_code& ec) {
            if (!ec) {
                accept_next();
            }
        });
    }

    Server& server_;
    asio::strand<asio::io_context::executor_type> strand_;
    asio::ip::tcp::acceptor acceptor_;  // used on strand_ only once listening
    asio::steady_timer pause_;
    asio::ip::tcp::endpoint local_;
    bool stopped_ = false;  // strand_ only
    std::chrono::steady_clock::time_point last_warning_{};
};

}  // namespace gateway::station
