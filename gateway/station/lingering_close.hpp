#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <websocketpp/transport/asio/security/none.hpp>
#include <websocketpp/transport/asio/security/tls.hpp>

#include <chrono>
#include <cstddef>
#include <memory>

namespace gateway::station {

/// A connection the gateway has closed is still read, and what arrives discarded, for up to
/// this long and this many bytes, before its socket is closed.
///
/// Why: websocketpp ends a connection right after writing its close frame when the station
/// broke a rule (1009 for an oversize frame, 1002, 1007, 1008), shutting the socket down for
/// reading and writing. A station still in the middle of sending (a 10 MB frame) then meets a
/// TCP reset, and most WebSocket stacks report that reset (1006) instead of the close frame
/// already in their receive buffer. So the gateway does what HTTP servers call a lingering
/// close: it sends its FIN after the close frame, reads and discards until the station closes
/// its side (usually at once: it answers the close), the time or the byte budget runs out, and
/// only then closes the socket. Under websocketpp's own socket-shutdown timeout (5 s).
inline constexpr std::chrono::milliseconds kLingerTime{2000};
inline constexpr std::size_t kLingerBytes = 16 * 1024 * 1024;

namespace detail {

using ShutdownHandler = websocketpp::transport::asio::socket::shutdown_handler;
using StrandPtr = std::shared_ptr<asio::io_context::strand>;

/// Shuts `socket` down for sending, reads and discards as above, closes it, then calls `done`
/// (on `strand` when there is one). `owner` keeps the socket alive meanwhile.
void linger(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, const StrandPtr& strand,
            ShutdownHandler done);

}  // namespace detail

/// websocketpp's plain socket policy with a lingering close (for WsConfig's transport).
class LingeringPlainConnection : public websocketpp::transport::asio::basic_socket::connection {
public:
    using type = LingeringPlainConnection;
    using ptr = std::shared_ptr<type>;

protected:
    websocketpp::lib::error_code init_asio(io_service_ptr service, strand_ptr strand, bool is_server) {
        strand_ = strand;
        return connection::init_asio(service, strand, is_server);
    }

    /// Replaces the policy's shutdown of both directions, which would discard what the
    /// station is still sending and reset the connection.
    void async_shutdown(detail::ShutdownHandler done) {
        detail::linger(get_raw_socket(), get_shared(), strand_, std::move(done));
    }

private:
    strand_ptr strand_;
};

/// The same for TLS: after the TLS shutdown (quiet: no close_notify exchange), the TCP socket
/// below it lingers.
class LingeringTlsConnection : public websocketpp::transport::asio::tls_socket::connection {
public:
    using type = LingeringTlsConnection;
    using ptr = std::shared_ptr<type>;

protected:
    websocketpp::lib::error_code init_asio(io_service_ptr service, strand_ptr strand, bool is_server) {
        strand_ = strand;
        return connection::init_asio(service, strand, is_server);
    }

    void async_shutdown(detail::ShutdownHandler done) {
        auto self = get_shared();
        connection::async_shutdown([this, self, done = std::move(done)](const asio::error_code&) mutable {
            detail::linger(get_next_layer(), self, strand_, std::move(done));
        });
    }

private:
    strand_ptr strand_;
};

/// Socket policies for websocketpp transport configs: `socket_type` of a transport_config.
struct LingeringPlainSocket : websocketpp::transport::asio::basic_socket::endpoint {
    using socket_con_type = LingeringPlainConnection;
    using socket_con_ptr = socket_con_type::ptr;
};
struct LingeringTlsSocket : websocketpp::transport::asio::tls_socket::endpoint {
    using socket_con_type = LingeringTlsConnection;
    using socket_con_ptr = socket_con_type::ptr;
};

}  // namespace gateway::station
