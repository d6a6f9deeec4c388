#include "gateway/admin.hpp"

#include <stdexcept>

namespace gateway {

AdminServer::AdminServer(const Config& config, asio::io_context& io, std::function<bool()> ready,
                         std::function<std::string()> metrics)
    : config_(config), ready_(std::move(ready)), metrics_(std::move(metrics)) {
    http_.init_asio(&io);
    http_.set_reuse_addr(true);
    http_.set_max_http_body_size(64 * 1024);
    http_.set_open_handshake_timeout(5000);
    http_.set_http_handler([this](websocketpp::connection_hdl hdl) { on_http(hdl); });
    // Nothing upgrades to WebSocket here.
    http_.set_validate_handler([](websocketpp::connection_hdl) { return false; });
}

void AdminServer::listen() {
    std::error_code ec;
    const auto address = asio::ip::make_address(config_.admin_listen.host, ec);
    if (ec) {
        throw std::runtime_error("admin listen address \"" + config_.admin_listen.host +
                                 "\" is not an IP address");
    }
    websocketpp::lib::error_code wec;
    http_.listen(asio::ip::tcp::endpoint(address, config_.admin_listen.port), wec);
    if (!wec) {
        http_.start_accept(wec);
    }
    if (wec) {
        throw std::runtime_error("cannot listen on " + config_.admin_listen.to_string() + ": " +
                                 wec.message());
    }
}

void AdminServer::stop_listening() {
    websocketpp::lib::error_code ec;
    http_.stop_listening(ec);
}

void AdminServer::on_http(websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    auto con = http_.get_con_from_hdl(hdl, ec);
    if (ec) {
        return;
    }
    using status = websocketpp::http::status_code::value;
    // websocketpp closes the connection after each response: say so, or clients that reuse
    // connections meet a closed socket.
    con->replace_header("Connection", "close");
    std::string path = con->get_resource();
    if (const auto q = path.find('?'); q != std::string::npos) {
        path.resize(q);
    }
    const std::string& method = con->get_request().get_method();
    if (method != "GET" && method != "HEAD") {
        con->set_status(websocketpp::http::status_code::method_not_allowed);
        con->replace_header("Allow", "GET, HEAD");
        con->set_body("only GET is supported here\n");
        return;
    }
    con->replace_header("Content-Type", "text/plain; charset=utf-8");
    if (path == "/healthz") {
        con->set_status(websocketpp::http::status_code::ok);
        con->set_body("ok\n");
    } else if (path == "/readyz") {
        const bool ready = ready_();
        con->set_status(ready ? websocketpp::http::status_code::ok
                              : websocketpp::http::status_code::service_unavailable);
        con->set_body(ready ? "ready\n" : "not ready\n");
    } else if (path == "/metrics") {
        con->replace_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        con->set_status(websocketpp::http::status_code::ok);
        con->set_body(metrics_());
    } else {
        con->set_status(static_cast<status>(404));
        con->set_body("not found: /healthz, /readyz and /metrics are served here\n");
    }
}

}  // namespace gateway
