#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <websocketpp/transport/asio/security/none.hpp>
#include <websocketpp/transport/asio/security/tls.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/station/proxy_protocol.hpp"

namespace gateway::station {

/// websocketpp socket policies for station connections (plain and TLS): websocketpp's own,
/// plus two things it lacks.
///
/// **Lingering close.** websocketpp ends a connection right after writing its close frame
/// when the station broke a rule (1009 for an oversize frame, 1002, 1007, 1008), shutting the
/// socket down for reading and writing. A station still in the middle of sending (a 10 MB
/// frame) then meets a TCP reset, and most WebSocket stacks report that reset (1006) instead
/// of the close frame already in their receive buffer. So a closed connection sends its FIN
/// after the close frame, is read and discarded until the station closes its side (usually
/// at once: it answers the close), for at most kLingerTime and kLingerBytes, and only then is
/// its socket closed — what HTTP servers call a lingering close. Under websocketpp's own
/// socket-shutdown timeout (5 s).
///
/// **PROXY protocol.** From a trusted proxy (ProxySettings), the connection's first bytes are
/// a PROXY header (v1 or v2), read before TLS and HTTP; the station's address it carries is
/// the connection's address from then on (proxied()). A trusted proxy's connection without a
/// valid header within the timeout is closed; anyone else's bytes are never read as one.
inline constexpr std::chrono::milliseconds kLingerTime{2000};
inline constexpr std::size_t kLingerBytes = 16 * 1024 * 1024;

/// What the listener tells every connection's socket about PROXY headers.
struct ProxySettings {
    /// Peers whose connections start with a PROXY header; empty: nobody's do.
    std::vector<config::Network> trusted;
    /// How long a trusted peer has to send the whole header.
    std::chrono::milliseconds timeout{5000};
    /// A trusted peer's connection closed for its header (peer address, problem).
    std::function<void(const std::string&, const std::string&)> refused;

    bool trusts(const asio::ip::address& peer) const;
};

namespace detail {

using ShutdownHandler = websocketpp::transport::asio::socket::shutdown_handler;
using InitHandler = websocketpp::transport::asio::socket::init_handler;
using StrandPtr = std::shared_ptr<asio::io_context::strand>;

/// Shuts `socket` down for sending, reads and discards as above, closes it, then calls `done`
/// (on `strand` when there is one). `owner` keeps the socket alive meanwhile.
void linger(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, const StrandPtr& strand,
            ShutdownHandler done);

/// Reads exactly one PROXY header (v1 or v2) from `socket` within `timeout` and calls `done`
/// with it (on `strand` when there is one); nothing after the header is read.
void read_proxy_header(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, const StrandPtr& strand,
                       std::chrono::milliseconds timeout,
                       std::function<void(std::variant<proxy::Source, proxy::Error>)> done);

}  // namespace detail

/// One station connection's socket: `Base` is websocketpp's basic_socket or tls_socket
/// connection.
template <class Base>
class StationSocket : public Base {
public:
    using type = StationSocket;
    using ptr = std::shared_ptr<type>;

    /// The station's address as a trusted proxy gave it; nullopt for a direct connection
    /// (or the proxy's own, LOCAL).
    const std::optional<proxy::Source>& proxied() const { return proxied_; }
    void set_proxy_settings(std::shared_ptr<const ProxySettings> settings) { proxy_ = std::move(settings); }

protected:
    websocketpp::lib::error_code init_asio(typename Base::io_service_ptr service, typename Base::strand_ptr strand,
                                           bool is_server) {
        strand_ = strand;
        return Base::init_asio(service, strand, is_server);
    }

    void pre_init(detail::InitHandler callback) {
        asio::error_code ec;
        auto& socket = this->get_next_layer();
        const auto peer = socket.remote_endpoint(ec);
        if (ec || !proxy_ || !proxy_->trusts(peer.address())) {
            Base::pre_init(std::move(callback));
            return;
        }
        auto self = this->get_shared();
        detail::read_proxy_header(
            socket, self, strand_, proxy_->timeout,
            [this, self, peer, callback = std::move(callback)](std::variant<proxy::Source, proxy::Error> header) mutable {
                if (auto* error = std::get_if<proxy::Error>(&header)) {
                    if (proxy_->refused) {
                        proxy_->refused(peer.address().to_string(), error->reason);
                    }
                    callback(websocketpp::transport::asio::socket::make_error_code(
                        websocketpp::transport::asio::socket::error::security));
                    return;
                }
                if (const auto& source = std::get<proxy::Source>(header); !source.local) {
                    proxied_ = source;
                }
                Base::pre_init(std::move(callback));
            });
    }

    /// Replaces the policy's shutdown (both directions for plain sockets), which would discard
    /// what the station is still sending and reset the connection.
    void async_shutdown(detail::ShutdownHandler done) {
        if constexpr (std::is_same_v<Base, websocketpp::transport::asio::tls_socket::connection>) {
            // After the TLS shutdown (quiet: no close_notify exchange), the TCP socket lingers.
            auto self = this->get_shared();
            Base::async_shutdown([this, self, done = std::move(done)](const asio::error_code&) mutable {
                detail::linger(this->get_next_layer(), self, strand_, std::move(done));
            });
        } else {
            detail::linger(this->get_next_layer(), this->get_shared(), strand_, std::move(done));
        }
    }

private:
    typename Base::strand_ptr strand_;
    std::shared_ptr<const ProxySettings> proxy_;
    std::optional<proxy::Source> proxied_;
};

/// A socket policy for websocketpp transport configs (`socket_type` of a transport_config):
/// `BaseEndpoint` is websocketpp's, StationSocket<BaseConnection> its connections.
template <class BaseEndpoint, class BaseConnection>
class StationSocketPolicy : public BaseEndpoint {
public:
    using socket_con_type = StationSocket<BaseConnection>;
    using socket_con_ptr = typename socket_con_type::ptr;

    /// Every connection made from now on reads PROXY headers as `settings` say.
    void set_proxy_settings(std::shared_ptr<const ProxySettings> settings) { proxy_ = std::move(settings); }

protected:
    websocketpp::lib::error_code init(socket_con_ptr scon) {
        scon->set_proxy_settings(proxy_);
        return BaseEndpoint::init(scon);
    }

private:
    std::shared_ptr<const ProxySettings> proxy_;
};

using PlainStationSocket = StationSocketPolicy<websocketpp::transport::asio::basic_socket::endpoint,
                                               websocketpp::transport::asio::basic_socket::connection>;
using TlsStationSocket = StationSocketPolicy<websocketpp::transport::asio::tls_socket::endpoint,
                                             websocketpp::transport::asio::tls_socket::connection>;

}  // namespace gateway::station
