#include "gateway/station/lingering_close.hpp"

#include <array>

#include <asio/bind_executor.hpp>
#include <asio/steady_timer.hpp>

namespace gateway::station::detail {
namespace {

/// `handler` as a completion handler that runs on `strand` (without one, with a single I/O
/// thread, every handler runs on that thread already).
template <class Handler>
auto on_strand(StrandPtr strand, Handler handler) {
    return [strand = std::move(strand), handler = std::move(handler)](auto... args) mutable {
        if (strand) {
            asio::dispatch(*strand, [handler = std::move(handler), args...]() mutable { handler(args...); });
        } else {
            handler(args...);
        }
    };
}

/// One lingering socket: a read loop and a deadline, whichever ends first ends both.
class Linger : public std::enable_shared_from_this<Linger> {
public:
    Linger(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, StrandPtr strand, ShutdownHandler done)
        : socket_(socket), owner_(std::move(owner)), strand_(std::move(strand)), done_(std::move(done)),
          timer_(socket.get_executor()) {}

    void start() {
        timer_.expires_after(kLingerTime);
        timer_.async_wait(on_strand(strand_, [self = shared_from_this()](const asio::error_code& ec) {
            if (!ec) {
                self->finish();
            }
        }));
        read();
    }

private:
    void read() {
        socket_.async_read_some(
            asio::buffer(buffer_), on_strand(strand_, [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                self->read_ += n;
                if (ec || self->finished_ || self->read_ >= kLingerBytes) {
                    self->finish();  // end of stream (the station closed its side), or enough
                } else {
                    self->read();
                }
            }));
    }

    void finish() {
        if (finished_) {
            return;
        }
        finished_ = true;
        asio::error_code ignored;
        timer_.cancel();
        socket_.close(ignored);  // also ends the read still pending, if any
        auto done = std::move(done_);
        done(asio::error_code());
        owner_.reset();
    }

    asio::ip::tcp::socket& socket_;
    std::shared_ptr<void> owner_;
    StrandPtr strand_;
    ShutdownHandler done_;
    asio::steady_timer timer_;
    std::array<char, 4096> buffer_{};
    std::size_t read_ = 0;
    bool finished_ = false;
};

}  // namespace

void linger(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, const StrandPtr& strand,
            ShutdownHandler done) {
    asio::error_code ec;
    // The FIN goes after the close frame; reading stays open.
    socket.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec) {
        // Nothing to linger on (the station reset the connection already, say).
        socket.close(ec);
        done(asio::error_code());
        return;
    }
    std::make_shared<Linger>(socket, std::move(owner), strand, std::move(done))->start();
}

}  // namespace gateway::station::detail
