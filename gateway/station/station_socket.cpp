#include "gateway/station/station_socket.hpp"

#include <array>

#include <asio/read.hpp>
#include <asio/steady_timer.hpp>

namespace gateway::station {

bool ProxySettings::trusts(const asio::ip::address& peer) const {
    for (const auto& network : trusted) {
        if (network.contains(peer)) {
            return true;
        }
    }
    return false;
}

std::string station_address(const std::optional<proxy::Source>& proxied,
                            const asio::basic_socket<asio::ip::tcp, asio::any_io_executor>& socket) {
    if (proxied) {
        return proxied->address.to_string();
    }
    std::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    if (ec) {
        return "unknown";
    }
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    }
    return address.to_string();
}

namespace detail {
namespace {

/// One lingering socket: a read loop and a deadline, whichever ends first ends both. It holds
/// no buffer while it waits: it waits for the socket to become readable and then reads what
/// arrived into one on the stack, so a thousand connections closing at once (a load balancer
/// draining, a gateway stopping) cost a thousand small objects, not a thousand read buffers.
class Linger : public std::enable_shared_from_this<Linger> {
public:
    Linger(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, ShutdownHandler done)
        : socket_(socket), owner_(std::move(owner)), done_(std::move(done)),
          timer_(socket.get_executor()) {}

    void start() {
        asio::error_code ec;
        socket_.non_blocking(true, ec);  // the reads below return at once, never block
        if (ec) {
            finish();
            return;
        }
        timer_.expires_after(kLingerTime);
        timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (!ec) {
                self->finish();
            }
        });
        wait();
    }

private:
    void wait() {
        socket_.async_wait(asio::ip::tcp::socket::wait_read, [self = shared_from_this()](const asio::error_code& ec) {
            if (ec || self->finished_) {
                self->finish();
            } else {
                self->drain();
            }
        });
    }

    /// Discards what has arrived, a bounded amount per wake-up so that one fast sender does not
    /// hold the I/O thread; ends at the end of the stream (the station closed its side), on an
    /// error, or once kLingerBytes are read.
    void drain() {
        std::array<char, 16 * 1024> discard;
        for (int round = 0; round < 8; ++round) {
            asio::error_code ec;
            const std::size_t n = socket_.read_some(asio::buffer(discard), ec);
            read_ += n;
            if (ec == asio::error::would_block || ec == asio::error::try_again) {
                break;
            }
            if (ec || read_ >= kLingerBytes) {
                finish();
                return;
            }
        }
        wait();
    }

    void finish() {
        if (finished_) {
            return;
        }
        finished_ = true;
        asio::error_code ignored;
        timer_.cancel();
        socket_.close(ignored);  // also ends the wait still pending, if any
        auto done = std::move(done_);
        done(asio::error_code());
        owner_.reset();
    }

    asio::ip::tcp::socket& socket_;
    std::shared_ptr<void> owner_;
    ShutdownHandler done_;
    asio::steady_timer timer_;
    std::size_t read_ = 0;
    bool finished_ = false;
};

/// Reads one PROXY header: 12 bytes tell v2 (its signature) from v1 ("PROXY "; the shortest
/// v1 line has 15), then exactly the rest — v2's length field, v1 byte by byte to its CRLF —
/// so not a byte of what follows is taken from websocketpp.
class HeaderReader : public std::enable_shared_from_this<HeaderReader> {
public:
    using Done = std::function<void(std::variant<proxy::Source, proxy::Error>)>;

    HeaderReader(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, Done done)
        : socket_(socket), owner_(std::move(owner)), done_(std::move(done)),
          timer_(socket.get_executor()) {}

    void start(std::chrono::milliseconds timeout) {
        timer_.expires_after(timeout);
        timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (!ec) {
                self->finish(proxy::Error{"no whole PROXY header in time"});
            }
        });
        read(12);
    }

private:
    void read(std::size_t more) {
        const std::size_t have = header_.size();
        header_.resize(have + more);
        asio::async_read(socket_, asio::buffer(&header_[have], more),
                         [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                             if (ec) {
                                 self->finish(proxy::Error{"connection ended in the PROXY header"});
                             } else {
                                 self->next();
                             }
                         });
    }

    void next() {
        if (finished_) {
            return;
        }
        if (header_.size() >= 12 && header_.compare(0, 12, proxy::kV2Signature) == 0) {
            if (header_.size() < 16) {
                read(16 - header_.size());
                return;
            }
            const std::size_t length = proxy::v2_length(header_);
            if (length == 0) {
                finish(proxy::Error{"PROXY v2 header longer than the gateway takes"});
            } else if (header_.size() < length) {
                read(length - header_.size());
            } else {
                finish(proxy::parse_v2(header_));
            }
            return;
        }
        if (header_.compare(0, 6, "PROXY ") != 0) {
            finish(proxy::Error{"no PROXY header from a trusted proxy"});
        } else if (header_.size() >= 2 && header_.compare(header_.size() - 2, 2, "\r\n") == 0) {
            finish(proxy::parse_v1(header_));
        } else if (header_.size() >= proxy::kV1MaxLine) {
            finish(proxy::Error{"PROXY v1 line longer than 107 bytes"});
        } else {
            read(1);
        }
    }

    void finish(std::variant<proxy::Source, proxy::Error> result) {
        if (finished_) {
            return;
        }
        finished_ = true;
        timer_.cancel();
        const bool refused = std::holds_alternative<proxy::Error>(result);
        auto done = std::move(done_);
        done(std::move(result));
        if (refused) {
            asio::error_code ignored;
            socket_.close(ignored);  // ends a read still pending, if `done` did not
        }
        owner_.reset();
    }

    asio::ip::tcp::socket& socket_;
    std::shared_ptr<void> owner_;
    Done done_;
    asio::steady_timer timer_;
    std::string header_;
    bool finished_ = false;
};

}  // namespace

void read_proxy_header(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, std::chrono::milliseconds timeout,
                       std::function<void(std::variant<proxy::Source, proxy::Error>)> done) {
    std::make_shared<HeaderReader>(socket, std::move(owner), std::move(done))->start(timeout);
}

void linger(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, ShutdownHandler done) {
    asio::error_code ec;
    // The FIN goes after the close frame; reading stays open.
    socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec) {
        // Nothing to linger on (the station reset the connection already, say).
        socket.close(ec);
        done(asio::error_code());
        return;
    }
    std::make_shared<Linger>(socket, std::move(owner), std::move(done))->start();
}

}  // namespace detail
}  // namespace gateway::station
