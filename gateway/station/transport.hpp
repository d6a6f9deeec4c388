#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <asio/defer.hpp>
#include <string>

#include "gateway/session/services.hpp"
#include "gateway/station/station_socket.hpp"

namespace gateway::station {

/// websocketpp's asio connection, two things changed. The hand-over of its own work to the
/// connection's strand (a frame to write, a close to start) is deferred instead of posted.
/// Called on an I/O thread (a session answering), a post wakes another I/O thread to write
/// the frame; deferred, the thread that asked writes it once its current handler returns.
/// From any other thread it is a post, as before. And its reads return first what the socket
/// read ahead of it (StationSocket's look at the upgrade request).
template <class TransportConfig>
class DeferringConnection : public websocketpp::transport::asio::connection<TransportConfig> {
    using Base = websocketpp::transport::asio::connection<TransportConfig>;

public:
    using Base::Base;

    websocketpp::lib::error_code dispatch(websocketpp::transport::dispatch_handler handler) {
        auto strand = this->get_strand();
        asio::defer(strand->context().get_executor(), strand->wrap(std::move(handler)));
        return {};
    }

    /// The bytes the socket read ahead for an UpgradePreview (station_socket.hpp) come first.
    void async_read_at_least(std::size_t num_bytes, char* buf, std::size_t len,
                             websocketpp::transport::read_handler handler) {
        const std::size_t n = this->take_preread(buf, len);
        if (n == 0) {
            Base::async_read_at_least(num_bytes, buf, len, std::move(handler));
        } else if (n >= num_bytes) {
            this->get_strand()->post([handler = std::move(handler), n] { handler(websocketpp::lib::error_code(), n); });
        } else {
            Base::async_read_at_least(num_bytes - n, buf + n, len - n,
                                      [handler = std::move(handler), n](const websocketpp::lib::error_code& ec,
                                                                        std::size_t more) { handler(ec, n + more); });
        }
    }
};

/// websocketpp's asio transport with DeferringConnection for its connections.
template <class TransportConfig>
class DeferringEndpoint : public websocketpp::transport::asio::endpoint<TransportConfig> {
public:
    using transport_con_type = DeferringConnection<TransportConfig>;
};

/// websocketpp settings: asio without TLS; message size and timeouts are set per endpoint.
struct WsConfig : websocketpp::config::asio {
    static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
    static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
    /// Read buffer held by every connection (websocketpp's default is 16 KiB): OCPP frames
    /// are mostly well under 4 KiB, and with tens of thousands of idle stations this buffer
    /// is most of the memory per station. Larger frames are simply read in several parts.
    static const std::size_t connection_read_buffer_size = 4096;
    /// Closed connections linger; PROXY headers from trusted proxies (station_socket.hpp).
    struct transport_config : websocketpp::config::asio::transport_config {
        using socket_type = PlainStationSocket;
    };
    using transport_type = DeferringEndpoint<transport_config>;
};
using WsServer = websocketpp::server<WsConfig>;

/// The same over TLS (security profiles 2 and 3).
struct WssConfig : websocketpp::config::asio_tls {
    static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
    static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
    static const std::size_t connection_read_buffer_size = 4096;
    struct transport_config : websocketpp::config::asio_tls::transport_config {
        using socket_type = TlsStationSocket;
    };
    using transport_type = DeferringEndpoint<transport_config>;
};
using WssServer = websocketpp::server<WssConfig>;

/// A connection of websocketpp server type `Server`, as a session sees it.
template <class Server>
class Link final : public session::StationLink {
public:
    explicit Link(typename Server::connection_ptr con) : con_(std::move(con)) {}
    std::error_code send_text(const std::string& text) override {
        return con_->send(text, websocketpp::frame::opcode::text);
    }
    void close(session::CloseCode code, const std::string& reason) override {
        websocketpp::lib::error_code ec;
        con_->close(static_cast<websocketpp::close::status::value>(code), reason, ec);
    }
    void ping() override {
        websocketpp::lib::error_code ec;
        con_->ping("", ec);
    }

private:
    typename Server::connection_ptr con_;
};

}  // namespace gateway::station
