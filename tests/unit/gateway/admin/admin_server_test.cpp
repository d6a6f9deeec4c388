#include <catch2/catch.hpp>

#include <asio/connect.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "gateway/admin/admin_server.hpp"

namespace {

using gateway::admin::AdminServer;
using gateway::config::AdminAccess;
using gateway::config::AdminPolicy;

/// An admin listener on a loopback port the system picks, run on its own thread.
struct Admin {
    gateway::config::Config config;
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::unique_ptr<AdminServer> server;
    std::thread thread;

    /// `starting`: opened as the gateway opens it before Kafka is ready (await_commands),
    /// and not ready until then.
    std::atomic<bool> ready{true};

    Admin(AdminPolicy policy, std::string token, bool starting = false) {
        config.admin_listen = {"127.0.0.1", 0};
        config.admin_token = std::move(token);
        ready = !starting;
        server = std::make_unique<AdminServer>(config, policy, io, [this] { return ready.load(); },
                                               [] { return std::string("ocpp_ready 1\n"); });
        if (starting) {
            server->await_commands();
        }
        server->listen();
        thread = std::thread([this] { io.run(); });
    }

    ~Admin() {
        work.reset();
        io.stop();
        thread.join();
    }

    /// The status code and body of one request (the server closes after each response).
    std::pair<int, std::string> request(const std::string& method, const std::string& path,
                                        const std::string& authorization = "") {
        asio::io_context client;
        asio::ip::tcp::socket socket(client);
        socket.connect({asio::ip::make_address("127.0.0.1"), server->port()});
        std::string head = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
        if (!authorization.empty()) {
            head += "Authorization: " + authorization + "\r\n";
        }
        head += "Content-Length: 0\r\n\r\n";
        asio::write(socket, asio::buffer(head));
        std::string response;
        asio::error_code ec;
        asio::read(socket, asio::dynamic_buffer(response), ec);  // to the end: Connection: close
        REQUIRE(ec == asio::error::eof);
        REQUIRE(response.rfind("HTTP/1.1 ", 0) == 0);
        const auto body = response.find("\r\n\r\n");
        return {std::stoi(response.substr(9, 3)), body == std::string::npos ? "" : response.substr(body + 4)};
    }
};

}  // namespace

TEST_CASE("the admin listener serves /v1 and /metrics as its policy says", "[admin]") {
    SECTION("no token on loopback: open") {
        Admin admin({AdminAccess::open, AdminAccess::open}, "");
        CHECK(admin.request("GET", "/metrics").first == 200);
        // No command routers here: past the access check, /v1 has nothing to serve.
        CHECK(admin.request("GET", "/v1/stations").first == 404);
    }
    SECTION("a token: /v1 and /metrics need it, health never does") {
        Admin admin({AdminAccess::token, AdminAccess::token}, "s3cret");
        for (const char* path : {"/v1/stations", "/metrics"}) {
            INFO(path);
            CHECK(admin.request("GET", path).first == 401);
            CHECK(admin.request("GET", path, "Bearer wrong").first == 401);
            CHECK(admin.request("GET", path, "Bearer s3cretx").first == 401);
            CHECK(admin.request("GET", path, "Basic s3cret").first == 401);
        }
        CHECK(admin.request("POST", "/v1/stations/CP1/calls/Reset", "").first == 401);
        CHECK(admin.request("GET", "/metrics", "Bearer s3cret") == std::pair<int, std::string>{200, "ocpp_ready 1\n"});
        CHECK(admin.request("GET", "/v1/stations", "Bearer s3cret").first == 404);
        CHECK(admin.request("GET", "/healthz").first == 200);
        CHECK(admin.request("GET", "/readyz").first == 200);
    }
    SECTION("metrics without the token, commands with it") {
        Admin admin({AdminAccess::token, AdminAccess::open}, "s3cret");
        CHECK(admin.request("GET", "/metrics").first == 200);
        CHECK(admin.request("GET", "/v1/stations").first == 401);
        CHECK(admin.request("POST", "/v1/stations/CP1/calls/Reset").first == 401);
    }
    SECTION("exposed without a token: /v1 refused to everyone, metrics and health served") {
        Admin admin({AdminAccess::refused, AdminAccess::open}, "");
        const auto [code, body] = admin.request("POST", "/v1/stations/CP1/calls/Reset");
        CHECK(code == 403);
        CHECK_THAT(body, Catch::Contains("admin.token is not set"));
        CHECK(admin.request("GET", "/v1/stations", "Bearer anything").first == 403);
        CHECK(admin.request("GET", "/metrics").first == 200);
        CHECK(admin.request("GET", "/healthz").first == 200);
    }
}

TEST_CASE("an admin listener opened while the gateway starts: alive, not ready, no commands yet",
          "[admin]") {
    Admin admin({AdminAccess::token, AdminAccess::open}, "s3cret", true);
    CHECK(admin.request("GET", "/healthz").first == 200);
    CHECK(admin.request("GET", "/readyz") ==
          std::pair<int, std::string>{503, "not ready: starting, waiting for Kafka and its topics\n"});
    CHECK(admin.request("GET", "/metrics").first == 200);
    // The token is still checked first; then the caller learns to come back.
    CHECK(admin.request("GET", "/v1/stations").first == 401);
    const auto [code, body] = admin.request("POST", "/v1/stations/CP1/calls/Reset", "Bearer s3cret");
    CHECK(code == 503);
    CHECK_THAT(body, Catch::Contains("starting"));

    admin.server->serve_commands({}, nullptr);  // this gateway has no routers: /v1 is 404 then
    admin.ready = true;
    CHECK(admin.request("GET", "/v1/stations", "Bearer s3cret").first == 404);
    CHECK(admin.request("GET", "/readyz") == std::pair<int, std::string>{200, "ready\n"});
}
