#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include "gateway/http/websocket_utf8.hpp"  // before websocketpp instantiates its processor
#include <websocketpp/transport/asio/security/none.hpp>
#include <websocketpp/http/request.hpp>
#include <websocketpp/processors/processor.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "gateway/config/config.hpp"
#include "gateway/security/registry.hpp"
#include "gateway/station/proxy_protocol.hpp"
#include "gateway/station/tls_socket.hpp"
#include "ocpp/version.hpp"

namespace gateway::station {

/// websocketpp socket policies for station connections (plain and TLS): websocketpp's own
/// plain one and TlsSocketConnection (tls_socket.hpp), plus what websocketpp lacks.
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
///
/// **A look at the upgrade request first.** websocketpp reads the upgrade request and decides
/// it (the listener's validate handler) in one go on the connection's I/O thread, and that
/// decision may need a PBKDF2 password check: tens of milliseconds in which the thread serves
/// nobody else. With an UpgradePreview set, the socket reads the request's head itself once
/// TLS is up, shows it to the preview (which may run the password check on other threads)
/// and only then lets websocketpp go on, handing it the bytes it read first
/// (DeferringConnection). The result rides with the connection (take_precheck()); the
/// decision itself stays in the validate handler.
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

/// A password check run for a connection before websocketpp read its upgrade request, and
/// what it was run for: the validate handler uses it only for that same request.
struct PasswordPrecheck {
    std::string station;        ///< the identity, as the request target names it
    std::size_t tenant = 0;     ///< its tenant (Handshake::tenant)
    std::string authorization;  ///< the Authorization header
    ocpp::ProtocolVersion version{};  ///< the version it was checked for (1.6 treats hex specially)
    /// Its verdict; nothing when it could not run in time (refused as over the budget).
    std::optional<security::StationRegistry::Checked> verdict;
};

/// What the listener does with an upgrade request's head before websocketpp reads it.
class UpgradePreview {
public:
    virtual ~UpgradePreview() = default;
    struct Head {
        std::string peer_ip;  ///< as station_address() gives it
        std::string resource;
        std::vector<std::string> subprotocols;  ///< offered, in the station's order
        std::string authorization;
    };
    /// Calls `done` exactly once, at once or later from any thread: with a password check's
    /// result, or with nothing when the request needs none now.
    virtual void preview(const Head& head, std::function<void(std::optional<PasswordPrecheck>)> done) = 0;
};

/// The request heads a preview waits for: websocketpp's own limit on an upgrade request's
/// headers; a longer one is left to websocketpp to refuse.
inline constexpr std::size_t kMaxRequestHead = 16000;

/// The station's address: the one a trusted proxy's PROXY header gave, else the TCP peer's
/// (IPv4-mapped IPv6 addresses as IPv4); "unknown" when the socket has none any more.
std::string station_address(const std::optional<proxy::Source>& proxied,
                            const asio::basic_socket<asio::ip::tcp, asio::any_io_executor>& socket);

namespace detail {

using ShutdownHandler = websocketpp::transport::asio::socket::shutdown_handler;
using InitHandler = websocketpp::transport::asio::socket::init_handler;

/// Shuts `socket` down for sending, reads and discards as above, closes it, then calls `done`.
/// `owner` keeps the socket alive meanwhile. Handlers run on the socket's context, which has
/// one thread (transport.hpp).
void linger(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner, ShutdownHandler done);

/// Reads exactly one PROXY header (v1 or v2) from `socket` within `timeout` and calls `done`
/// with it; nothing after the header is read. After an error `done` returns, the socket is
/// closed (`done` may close it first). Same threading as linger().
void read_proxy_header(asio::ip::tcp::socket& socket, std::shared_ptr<void> owner,
                       std::chrono::milliseconds timeout,
                       std::function<void(std::variant<proxy::Source, proxy::Error>)> done);

}  // namespace detail

/// One station connection's socket: `Base` is websocketpp's basic_socket connection or
/// TlsSocketConnection.
template <class Base>
class StationSocket : public Base {
public:
    using type = StationSocket;
    using ptr = std::shared_ptr<type>;

    /// The station's address as a trusted proxy gave it; nullopt for a direct connection
    /// (or the proxy's own, LOCAL).
    const std::optional<proxy::Source>& proxied() const { return proxied_; }
    void set_proxy_settings(std::shared_ptr<const ProxySettings> settings) { proxy_ = std::move(settings); }
    void set_preview(std::shared_ptr<UpgradePreview> preview) { preview_ = std::move(preview); }
    /// The password check the preview ran for this connection, if any; handed over once (the
    /// connection holds nothing of it afterwards).
    std::optional<PasswordPrecheck> take_precheck() { return std::exchange(precheck_, std::nullopt); }

    /// Moves up to `len` bytes the preview read and websocketpp has not yet been given into
    /// `buf`; returns how many (0 once all were given).
    std::size_t take_preread(char* buf, std::size_t len) {
        const std::size_t n = std::min(len, preread_.size() - preread_taken_);
        if (n > 0) {
            std::memcpy(buf, preread_.data() + preread_taken_, n);
            preread_taken_ += n;
        }
        if (preread_taken_ == preread_.size() && !preread_.empty()) {
            std::string().swap(preread_);  // its memory too: idle stations are many
            preread_taken_ = 0;
        }
        return n;
    }

protected:
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
            socket, self, proxy_->timeout,
            [this, self, peer, callback = std::move(callback)](std::variant<proxy::Source, proxy::Error> header) mutable {
                if (auto* error = std::get_if<proxy::Error>(&header)) {
                    // Counted before the close: whoever sees the connection end may read the
                    // count next. Closed before websocketpp hears of it, which goes on to
                    // post_init after an error in pre_init (0.8.2).
                    if (proxy_->refused) {
                        proxy_->refused(peer.address().to_string(), error->reason);
                    }
                    asio::error_code ignored;
                    this->get_next_layer().close(ignored);
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

    /// After the policy's own (the TLS handshake), with a preview: the request head is read
    /// and previewed before websocketpp reads the request.
    void post_init(detail::InitHandler callback) {
        if (!preview_) {
            Base::post_init(std::move(callback));
            return;
        }
        auto self = this->get_shared();
        Base::post_init([this, self, callback = std::move(callback)](const websocketpp::lib::error_code& ec) mutable {
            if (ec) {
                callback(ec);
                return;
            }
            read_head(std::move(callback));
        });
    }

    /// Replaces the policy's shutdown (both directions for plain sockets), which would discard
    /// what the station is still sending and reset the connection.
    void async_shutdown(detail::ShutdownHandler done) {
        if constexpr (std::is_same_v<Base, TlsSocketConnection>) {
            // After the TLS shutdown (quiet: no close_notify exchange), the TCP socket lingers.
            auto self = this->get_shared();
            Base::async_shutdown([this, self, done = std::move(done)](const asio::error_code&) mutable {
                detail::linger(this->get_next_layer(), self, std::move(done));
            });
        } else {
            detail::linger(this->get_next_layer(), this->get_shared(), std::move(done));
        }
    }

private:
    /// Reads until the blank line that ends the head (or kMaxRequestHead bytes), then previews.
    /// Under websocketpp's post-init timeout, which cancels the read or ignores a late resume.
    void read_head(detail::InitHandler callback) {
        constexpr std::size_t kChunk = 2048;
        const std::size_t had = preread_.size();
        preread_.resize(had + kChunk);
        auto self = this->get_shared();
        this->get_socket().async_read_some(
            asio::buffer(&preread_[had], kChunk),
            [this, self, had, callback = std::move(callback)](const asio::error_code& ec, std::size_t n) mutable {
                preread_.resize(had + n);
                if (ec) {
                    callback(ec);
                    return;
                }
                const std::size_t from = had > 3 ? had - 3 : 0;
                if (preread_.find("\r\n\r\n", from) == std::string::npos && preread_.size() < kMaxRequestHead) {
                    read_head(std::move(callback));
                    return;
                }
                preview(std::move(callback));
            });
    }

    void preview(detail::InitHandler callback) {
        UpgradePreview::Head head;
        bool upgrade = false;
        try {
            websocketpp::http::parser::request request;
            request.consume(preread_.data(), preread_.size());
            upgrade = request.ready() && websocketpp::processor::is_websocket_handshake(request);
            if (upgrade) {
                head.resource = request.get_uri();
                head.authorization = request.get_header("Authorization");
                head.subprotocols = ocpp::parse_subprotocol_header(request.get_header("Sec-WebSocket-Protocol"));
            }
        } catch (const std::exception&) {
            upgrade = false;  // not HTTP websocketpp accepts: it reads the same bytes and says so
        }
        if (!upgrade) {
            callback(websocketpp::lib::error_code());  // websocketpp reads on and decides
            return;
        }
        head.peer_ip = station_address(proxied_, this->get_next_layer());
        auto self = this->get_shared();
        // The verdict comes from the password pool's thread: back to the connection's own.
        auto executor = this->get_next_layer().get_executor();
        preview_->preview(head, [this, self, executor, callback = std::move(callback)](
                                    std::optional<PasswordPrecheck> result) mutable {
            asio::post(executor, [this, self, result = std::move(result), callback = std::move(callback)]() mutable {
                precheck_ = std::move(result);
                callback(websocketpp::lib::error_code());
            });
        });
    }

    std::shared_ptr<const ProxySettings> proxy_;
    std::optional<proxy::Source> proxied_;
    std::shared_ptr<UpgradePreview> preview_;
    std::optional<PasswordPrecheck> precheck_;
    std::string preread_;            // the request as far as the preview read it
    std::size_t preread_taken_ = 0;  // how much of it websocketpp has been given
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
    /// Every connection made from now on shows its request head to `preview` first.
    void set_preview(std::shared_ptr<UpgradePreview> preview) { preview_ = std::move(preview); }

protected:
    websocketpp::lib::error_code init(socket_con_ptr scon) {
        scon->set_proxy_settings(proxy_);
        scon->set_preview(preview_);
        return BaseEndpoint::init(scon);
    }

private:
    std::shared_ptr<const ProxySettings> proxy_;
    std::shared_ptr<UpgradePreview> preview_;
};

using PlainStationSocket = StationSocketPolicy<websocketpp::transport::asio::basic_socket::endpoint,
                                               websocketpp::transport::asio::basic_socket::connection>;
using TlsStationSocket = StationSocketPolicy<TlsSocketEndpoint, TlsSocketConnection>;

}  // namespace gateway::station
