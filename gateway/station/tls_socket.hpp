#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <websocketpp/common/connection_hdl.hpp>
#include <websocketpp/transport/asio/security/base.hpp>
#include <websocketpp/transport/base/connection.hpp>
#include <websocketpp/uri.hpp>

#include <asio/ssl/error.hpp>

#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "gateway/station/tls_stream.hpp"

namespace gateway::station {

/// A websocketpp socket policy (`socket_type` of a transport config) for TLS connections on
/// TlsStream instead of asio's `ssl::stream`: websocketpp's own TLS policy in behaviour (the
/// TLS handshake after the TCP accept, errors translated the same way), without the 70 KiB
/// of buffers per connection. Server side only.
class TlsSocketConnection : public std::enable_shared_from_this<TlsSocketConnection> {
public:
    using type = TlsSocketConnection;
    using ptr = std::shared_ptr<type>;
    using socket_type = TlsStream;
    using io_service_ptr = asio::io_context*;
    using strand_ptr = std::shared_ptr<asio::io_context::strand>;
    using context_ptr = std::shared_ptr<asio::ssl::context>;
    /// Gives the TLS settings (an SSL_CTX) for a new connection.
    using tls_init_handler = std::function<context_ptr(websocketpp::connection_hdl)>;

    ptr get_shared() { return shared_from_this(); }
    bool is_secure() const { return true; }
    socket_type::lowest_layer_type& get_raw_socket() { return socket_->lowest_layer(); }
    socket_type::next_layer_type& get_next_layer() { return socket_->next_layer(); }
    socket_type& get_socket() { return *socket_; }
    void set_tls_init_handler(tls_init_handler handler) { tls_init_ = std::move(handler); }

    /// "address:port" of the peer; with `ec` set when the socket has none.
    std::string get_remote_endpoint(websocketpp::lib::error_code& ec) const {
        asio::error_code aec;
        const auto endpoint = socket_->lowest_layer().remote_endpoint(aec);
        std::ostringstream text;
        if (aec) {
            ec = websocketpp::transport::error::make_error_code(websocketpp::transport::error::pass_through);
            text << "Error getting remote endpoint: " << aec << " (" << aec.message() << ")";
        } else {
            ec = websocketpp::lib::error_code();
            text << endpoint;
        }
        return text.str();
    }

    /// websocketpp's error for an asio error of this socket (as its own TLS policy does).
    template <class ErrorCode>
    static websocketpp::lib::error_code translate_ec(ErrorCode ec) {
        if (ec.category() == asio::error::get_ssl_category()) {
            return websocketpp::transport::error::make_error_code(websocketpp::transport::error::tls_error);
        }
        return websocketpp::transport::error::make_error_code(websocketpp::transport::error::pass_through);
    }
    static websocketpp::lib::error_code translate_ec(websocketpp::lib::error_code ec) { return ec; }

protected:
    /// websocketpp runs without strands here (WsConfig): `strand` is always null.
    websocketpp::lib::error_code init_asio(io_service_ptr service, strand_ptr /*strand*/, bool is_server) {
        namespace socket = websocketpp::transport::asio::socket;
        if (!is_server) {
            return socket::make_error_code(socket::error::security);  // no client side here
        }
        if (!tls_init_) {
            return socket::make_error_code(socket::error::missing_tls_init_handler);
        }
        context_ = tls_init_(hdl_);
        if (!context_) {
            return socket::make_error_code(socket::error::invalid_tls_context);
        }
        try {
            socket_ = std::make_unique<socket_type>(*service, *context_);
        } catch (const std::exception&) {
            return socket::make_error_code(socket::error::invalid_tls_context);
        }
        return {};
    }

    void set_uri(websocketpp::uri_ptr) {}
    void pre_init(websocketpp::transport::asio::socket::init_handler callback) { callback({}); }

    /// The TLS handshake, under websocketpp's handshake timeout (which cancels the socket).
    void post_init(websocketpp::transport::asio::socket::init_handler callback) {
        namespace socket = websocketpp::transport::asio::socket;
        ec_ = socket::make_error_code(socket::error::tls_handshake_timeout);
        auto done = [self = get_shared(), callback = std::move(callback)](const asio::error_code& ec) {
            self->ec_ = ec ? socket::make_error_code(socket::error::tls_handshake_failed) : websocketpp::lib::error_code();
            callback(self->ec_);
        };
        socket_->async_handshake(asio::ssl::stream_base::server, std::move(done));
    }

    void set_handle(websocketpp::connection_hdl hdl) { hdl_ = std::move(hdl); }
    websocketpp::lib::error_code get_ec() const { return ec_; }

    asio::error_code cancel_socket() {
        asio::error_code ec;
        get_raw_socket().cancel(ec);
        return ec;
    }

    void async_shutdown(websocketpp::transport::asio::socket::shutdown_handler callback) {
        socket_->async_shutdown(std::move(callback));
    }

private:
    context_ptr context_;  // the SSL_CTX outlives the connection's SSL
    std::unique_ptr<socket_type> socket_;
    websocketpp::lib::error_code ec_;
    websocketpp::connection_hdl hdl_;
    tls_init_handler tls_init_;
};

/// The endpoint half of the policy: hands every connection the TLS init handler.
class TlsSocketEndpoint {
public:
    using type = TlsSocketEndpoint;
    using socket_con_type = TlsSocketConnection;
    using socket_con_ptr = socket_con_type::ptr;

    bool is_secure() const { return true; }
    void set_tls_init_handler(TlsSocketConnection::tls_init_handler handler) { tls_init_ = std::move(handler); }

protected:
    websocketpp::lib::error_code init(socket_con_ptr con) {
        con->set_tls_init_handler(tls_init_);
        return {};
    }

private:
    TlsSocketConnection::tls_init_handler tls_init_;
};

}  // namespace gateway::station
