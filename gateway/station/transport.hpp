#pragma once

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include "gateway/http/websocket_utf8.hpp"  // before websocketpp instantiates its processor
#include <websocketpp/concurrency/none.hpp>
#include <websocketpp/config/asio.hpp>
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <asio/defer.hpp>
#include <asio/post.hpp>
#include <asio/io_context.hpp>
#include <atomic>
#include <string>
#include <vector>

#include "gateway/session/services.hpp"
#include "gateway/station/station_socket.hpp"

namespace gateway::station {

/// websocketpp's asio connection, two things changed. The hand-over of its own work to the
/// connection's context (a frame to write, a close to start) is deferred instead of posted.
/// Called on an I/O thread (a session answering), a post wakes another I/O thread to write
/// the frame; deferred, the thread that asked writes it once its current handler returns.
/// From any other thread it is a post, as before. And its reads return first what the socket
/// read ahead of it (StationSocket's look at the upgrade request).
template <class TransportConfig>
class DeferringConnection : public websocketpp::transport::asio::connection<TransportConfig> {
    using Base = websocketpp::transport::asio::connection<TransportConfig>;

public:
    using Base::Base;

    /// For DeferringEndpoint, which chooses the context.
    websocketpp::lib::error_code init_on(asio::io_context* io) { return this->init_asio(io); }

    websocketpp::lib::error_code dispatch(websocketpp::transport::dispatch_handler handler) {
        asio::defer(context().get_executor(), std::move(handler));
        return {};
    }

    /// The context this connection runs on, which has exactly one thread: everything posted
    /// here runs one at a time (websocketpp runs without strands and locks, see WsConfig).
    /// Whoever calls into the connection from another thread posts here first.
    asio::io_context& context() {
        return static_cast<asio::io_context&>(
            asio::query(this->get_raw_socket().get_executor(), asio::execution::context));
    }

    /// The bytes the socket read ahead for an UpgradePreview (station_socket.hpp) come first.
    void async_read_at_least(std::size_t num_bytes, char* buf, std::size_t len,
                             websocketpp::transport::read_handler handler) {
        const std::size_t n = this->take_preread(buf, len);
        if (n == 0) {
            Base::async_read_at_least(num_bytes, buf, len, std::move(handler));
        } else if (n >= num_bytes) {
            asio::post(context().get_executor(),
                       [handler = std::move(handler), n] { handler(websocketpp::lib::error_code(), n); });
        } else {
            Base::async_read_at_least(num_bytes - n, buf + n, len - n,
                                      [handler = std::move(handler), n](const websocketpp::lib::error_code& ec,
                                                                        std::size_t more) { handler(ec, n + more); });
        }
    }
};

/// websocketpp's asio transport with DeferringConnection for its connections, which it
/// spreads over several io_contexts (one per I/O thread): each new connection goes to the
/// next one in turn, and everything it does from then on (reads, writes, timers, its
/// session) runs on that context's thread. Without set_contexts(), init_asio()'s context.
template <class TransportConfig>
class DeferringEndpoint : public websocketpp::transport::asio::endpoint<TransportConfig> {
    using Base = websocketpp::transport::asio::endpoint<TransportConfig>;

public:
    using transport_con_type = DeferringConnection<TransportConfig>;

    /// Before the first connection. The contexts outlive the endpoint's connections.
    void set_contexts(std::vector<asio::io_context*> contexts) { contexts_ = std::move(contexts); }

    void set_tcp_pre_init_handler(websocketpp::transport::asio::tcp_init_handler h) {
        pre_init_ = h;
        Base::set_tcp_pre_init_handler(std::move(h));
    }
    void set_tcp_post_init_handler(websocketpp::transport::asio::tcp_init_handler h) {
        post_init_ = h;
        Base::set_tcp_post_init_handler(std::move(h));
    }

protected:
    /// Base::init with the context chosen here (websocketpp's endpoint calls it by this
    /// class's name; it gives every connection its own single context).
    websocketpp::lib::error_code init(typename Base::transport_con_ptr tcon) {
        if (contexts_.empty()) {
            return Base::init(tcon);
        }
        using SocketEndpoint = typename TransportConfig::socket_type;
        auto ec = SocketEndpoint::init(
            websocketpp::lib::static_pointer_cast<typename SocketEndpoint::socket_con_type>(tcon));
        if (ec) {
            return ec;
        }
        asio::io_context* io = contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
        // Every connection of this endpoint is one of ours (transport_con_type).
        ec = static_cast<transport_con_type&>(*tcon).init_on(io);
        if (ec) {
            return ec;
        }
        tcon->set_tcp_pre_init_handler(pre_init_);
        tcon->set_tcp_post_init_handler(post_init_);
        return {};
    }

private:
    std::vector<asio::io_context*> contexts_;
    std::atomic<std::size_t> next_{0};
    websocketpp::transport::asio::tcp_init_handler pre_init_;
    websocketpp::transport::asio::tcp_init_handler post_init_;
};

/// websocketpp settings: asio without TLS; message size and timeouts are set per endpoint.
struct WsConfig : websocketpp::config::asio {
    using concurrency_type = websocketpp::concurrency::none;
    static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
    static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
    /// Read buffer held by every connection (websocketpp's default is 16 KiB): OCPP frames
    /// are mostly under 2 KiB, and with tens of thousands of idle stations this buffer is the
    /// largest part of the memory per station. Larger frames are simply read in several parts
    /// (docs/benchmarks.md, "Idle stations: memory": 1–2 KiB less per station than 4 KiB,
    /// CPU per message unchanged within noise).
    static const std::size_t connection_read_buffer_size = 2048;
    /// Closed connections linger; PROXY headers from trusted proxies (station_socket.hpp).
    struct transport_config : websocketpp::config::asio::transport_config {
        using socket_type = PlainStationSocket;
        using concurrency_type = websocketpp::concurrency::none;
        static const bool enable_multithreading = false;
    };
    using transport_type = DeferringEndpoint<transport_config>;
};
using WsServer = websocketpp::server<WsConfig>;

/// The same over TLS (security profiles 2 and 3).
struct WssConfig : websocketpp::config::asio_tls {
    using concurrency_type = websocketpp::concurrency::none;
    static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
    static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
    static const std::size_t connection_read_buffer_size = 2048;
    struct transport_config : websocketpp::config::asio_tls::transport_config {
        using socket_type = TlsStationSocket;
        using concurrency_type = websocketpp::concurrency::none;
        static const bool enable_multithreading = false;
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
    std::size_t unsent_bytes() const override { return con_->get_buffered_amount(); }
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
