#include "gateway/admin/admin_server.hpp"

#include <future>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "gateway/security/basic_auth.hpp"
#include "gateway/commands/router.hpp"
#include "gateway/http/url.hpp"
#include "kafka_bridge/envelope.hpp"
#include "ocpp/json_writer.hpp"

namespace gateway::admin {
namespace {

using json = nlohmann::json;
using status = websocketpp::http::status_code::value;

}  // namespace

void reply_json(const HttpServer::connection_ptr& con, int code, const json& body) {
    con->set_status(static_cast<status>(code));
    con->replace_header("Content-Type", "application/json");
    // Text from a request (a station id, a parameter) may be any bytes: not UTF-8 is replaced.
    con->set_body(ocpp::write_json(body) + "\n");
}

void reply_error(const HttpServer::connection_ptr& con, int code, const std::string& message) {
    reply_json(con, code, json{{"error", message}});
}

AdminServer::AdminServer(const config::Config& config, config::AdminPolicy policy, asio::io_context& io,
                         std::function<bool()> ready,
                         std::function<std::string()> metrics,
                         std::map<std::string, commands::Router*> commands,
                         std::function<std::optional<std::string>()> inject_fatal)
    : config_(config), policy_(policy), io_(io), ready_(std::move(ready)),
      metrics_(std::move(metrics)),
      commands_(std::move(commands)), inject_fatal_(std::move(inject_fatal)) {
    http_.init_asio(&io);
    http_.set_reuse_addr(true);
    http_.set_max_http_body_size(256 * 1024);  // an OCPP payload: the station frame limit
    http_.set_open_handshake_timeout(5000);
    http_.set_http_handler([this](websocketpp::connection_hdl hdl) { on_http(hdl); });
    // Nothing upgrades to WebSocket here.
    http_.set_validate_handler([](websocketpp::connection_hdl) { return false; });
}

void AdminServer::await_commands() { starting_ = true; }

void AdminServer::serve_commands(std::map<std::string, commands::Router*> commands,
                                 std::function<std::optional<std::string>()> inject_fatal) {
    std::promise<void> served;
    asio::post(io_, [&] {
        commands_ = std::move(commands);
        inject_fatal_ = std::move(inject_fatal);
        starting_ = false;
        served.set_value();
    });
    served.get_future().wait();
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

std::uint16_t AdminServer::port() {
    websocketpp::lib::asio::error_code ec;
    const auto endpoint = http_.get_local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

bool AdminServer::admitted(const Connection& con, config::AdminAccess access) const {
    if (access == config::AdminAccess::refused) {
        reply_error(con, 403, "the command API is off: admin_listen " + config_.admin_listen.to_string() +
                                  " is not a loopback address and admin.token is not set");
        return false;
    }
    if (access == config::AdminAccess::token && !token_matches(con)) {
        con->replace_header("WWW-Authenticate", "Bearer");
        reply_error(con, 401, "a valid bearer token is required (Authorization: Bearer <token>)");
        return false;
    }
    return true;
}

bool AdminServer::token_matches(const Connection& con) const {
    const std::string& header = con->get_request_header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
        return false;
    }
    return security::constant_time_equal(std::string_view(header).substr(kBearer.size()), config_.admin_token);
}

void AdminServer::on_http(websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    auto con = http_.get_con_from_hdl(hdl, ec);
    if (ec) {
        return;
    }
    // websocketpp closes the connection after each response: say so, or clients that reuse
    // connections meet a closed socket.
    con->replace_header("Connection", "close");
    std::string path = con->get_resource();
    std::string query;
    if (const auto q = path.find('?'); q != std::string::npos) {
        query = path.substr(q + 1);
        path.resize(q);
    }
    const std::string& method = con->get_request().get_method();
    const bool v1 = path.rfind("/v1/", 0) == 0;
    const bool test_hook = inject_fatal_ && path == "/test/kafka-fatal";
    if ((v1 || test_hook) && !admitted(con, policy_.commands)) {
        return;
    }
    if (v1 && starting_) {
        con->replace_header("Retry-After", "5");
        reply_error(con, 503, "the gateway is starting: Kafka and its topics are not ready yet");
        return;
    }
    if (path == "/metrics" && !admitted(con, policy_.metrics)) {
        return;
    }
    if (v1) {
        serve_v1(con, method, path, query);
        return;
    }
    if (test_hook) {
        if (method != "POST") {
            con->replace_header("Allow", "POST");
            reply_error(con, 405, "POST injects a fatal producer error");
            return;
        }
        if (auto problem = inject_fatal_()) {
            reply_error(con, 500, *problem);
            return;
        }
        reply_json(con, 200, json{{"injected", "fatal producer error"}});
        return;
    }
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
        con->set_body(ready ? "ready\n" : starting_ ? "not ready: starting, waiting for Kafka and its topics\n"
                                                    : "not ready\n");
    } else if (path == "/metrics") {
        con->replace_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        con->set_status(websocketpp::http::status_code::ok);
        con->set_body(metrics_());
    } else {
        con->set_status(static_cast<status>(404));
        con->set_body("not found: /healthz, /readyz, /metrics and /v1/stations are served here\n");
    }
}

}  // namespace gateway::admin
