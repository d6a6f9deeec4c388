#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <string>

#include "gateway/session/services.hpp"
#include "gateway/station/station_socket.hpp"

namespace gateway::station {

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
    using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
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
    using transport_type = websocketpp::transport::asio::endpoint<transport_config>;
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
