// --session: one station, one complete charging session, every frame printed.
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <type_traits>
#include <variant>

#include <fmt/format.h>

#include "ocpp/frame.hpp"
#include "tools/loadgen/payloads.hpp"
#include "tools/loadgen/run.hpp"
#include "tools/loadgen/tls.hpp"
#include "tools/loadgen/ws_client.hpp"

namespace loadgen {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Step {
    std::string action;
    std::function<json()> payload;
    // Reads what later steps need from the CALLRESULT; false stops the session.
    std::function<bool(const json&)> on_result;
};

std::string random_uuid() {
    std::random_device rd;
    std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
    const std::uint64_t a = gen();
    const std::uint64_t b = gen();
    return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                       a & 0xfff, 0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

std::string status_of(const json& payload, const char* object) {
    const json* p = &payload;
    if (object != nullptr) {
        const auto it = payload.find(object);
        if (it == payload.end() || !it->is_object()) {
            return "?";
        }
        p = &*it;
    }
    const auto s = p->find("status");
    return s != p->end() && s->is_string() ? s->get<std::string>() : "?";
}

template <typename Config>
class SessionDemo {
public:
    using Client = ClientOf<Config>;

    SessionDemo(const Options& o, const Target& t, const TlsClientSetup* tls)
        : options_(o),
          version_(o.v201_share >= 1.0 ? ocpp::ProtocolVersion::v201 : ocpp::ProtocolVersion::v16),
          id_(station_id(o.id_prefix, 1)),
          url_(t.base_url + "/" + id_),
          host_(t.host),
          timer_(io_) {
        websocketpp::lib::error_code ec;
        client_.init_asio(&io_, ec);
        client_.set_targets({{t.authority, t.endpoint}}, o.source_addresses, 0,
                            std::chrono::milliseconds(10000));
        client_.set_open_handshake_timeout(10000);
        client_.set_close_handshake_timeout(3000);
        client_.set_user_agent("ocpp-loadgen");
        if constexpr (std::is_same_v<Config, TlsConfig>) {
            client_.set_tls_init_handler([tls](websocketpp::connection_hdl) { return tls->context(); });
            client_.set_socket_init_handler(
                [this, tls](websocketpp::connection_hdl, asio::ssl::stream<asio::ip::tcp::socket>& s) {
                    if (auto problem = tls->prepare(s.native_handle(), host_, id_, nullptr)) {
                        fmt::print(stderr, "ocpp-loadgen: {}\n", *problem);
                    }
                });
        }
        steps_ = version_ == ocpp::ProtocolVersion::v16 ? steps_16() : steps_201();
    }

    int run() {
        fmt::print("session: station {} ({}) -> {}\n", id_, ocpp::subprotocol(version_), url_);
        websocketpp::lib::error_code ec;
        con_ = client_.get_connection(url_, ec);
        if (ec) {
            fmt::print(stderr, "ocpp-loadgen: {}\n", ec.message());
            return 1;
        }
        con_->add_subprotocol(std::string(ocpp::subprotocol(version_)), ec);
        if (!options_.password.empty()) {
            con_->append_header("Authorization",
                                "Basic " + websocketpp::base64_encode(id_ + ":" + options_.password));
        }
        con_->set_open_handler([this](websocketpp::connection_hdl) { on_open(); });
        con_->set_fail_handler([this](websocketpp::connection_hdl) { on_fail(); });
        con_->set_close_handler([this](websocketpp::connection_hdl) { on_close(); });
        con_->set_message_handler([this](websocketpp::connection_hdl, typename Client::message_ptr m) {
            on_message(m->get_payload());
        });
        client_.connect(con_);
        try {
            io_.run();
        } catch (const std::exception& e) {
            fmt::print(stderr, "ocpp-loadgen: {}\n", e.what());
            return 1;
        }
        if (ok_) {
            fmt::print("session complete: {} CALLs, {} CALLRESULTs\n", steps_.size(), answered_);
            return 0;
        }
        fmt::print("session FAILED: {}\n", failure_);
        return 1;
    }

private:
    std::vector<Step> steps_16() {
        std::vector<Step> s;
        const std::string token = token_for(1);
        s.push_back({"BootNotification", [this] { return boot_notification(version_, id_); },
                     [](const json& r) {
                         fmt::print("   boot status {}\n", status_of(r, nullptr));
                         return true;
                     }});
        s.push_back({"Authorize", [this, token] { return authorize(version_, token); },
                     [](const json& r) {
                         fmt::print("   idTagInfo.status {}\n", status_of(r, "idTagInfo"));
                         return true;
                     }});
        s.push_back({"StartTransaction",
                     [this, token] {
                         return start_transaction(token, static_cast<std::int64_t>(meter_.energy_wh),
                                                  utc_now());
                     },
                     [this](const json& r) {
                         const auto it = r.find("transactionId");
                         if (it == r.end() || !it->is_number_integer()) {
                             failure_ = "StartTransaction answer has no integer transactionId";
                             return false;
                         }
                         transaction_id_ = it->get<std::int64_t>();
                         fmt::print("   transactionId {}, idTagInfo.status {}\n", transaction_id_,
                                    status_of(r, "idTagInfo"));
                         return true;
                     }});
        for (int i = 0; i < 3; ++i) {
            s.push_back({"MeterValues",
                         [this] {
                             meter_.advance(rng_);
                             return meter_values(version_, meter_, utc_now(), transaction_id_);
                         },
                         nullptr});
        }
        s.push_back({"StopTransaction",
                     [this, token] {
                         meter_.advance(rng_);
                         return stop_transaction(transaction_id_, token,
                                                 static_cast<std::int64_t>(meter_.energy_wh),
                                                 utc_now());
                     },
                     nullptr});
        return s;
    }

    std::vector<Step> steps_201() {
        std::vector<Step> s;
        const std::string token = token_for(1);
        const std::string tx = random_uuid();
        s.push_back({"BootNotification", [this] { return boot_notification(version_, id_); },
                     [](const json& r) {
                         fmt::print("   boot status {}\n", status_of(r, nullptr));
                         return true;
                     }});
        s.push_back({"Authorize", [this, token] { return authorize(version_, token); },
                     [](const json& r) {
                         fmt::print("   idTokenInfo.status {}\n", status_of(r, "idTokenInfo"));
                         return true;
                     }});
        const auto event = [this, tx](TransactionEventArgs a) {
            return [this, tx, a]() mutable {
                meter_.advance(rng_);
                a.transaction_id = tx;
                a.energy_wh = static_cast<double>(static_cast<std::int64_t>(meter_.energy_wh));
                return transaction_event(a, utc_now());
            };
        };
        s.push_back({"TransactionEvent",
                     event({"Started", "Authorized", 0, "", "EVConnected", std::nullopt, token,
                            std::nullopt, "Transaction.Begin"}),
                     [tx](const json& r) {
                         fmt::print("   transactionId {}, idTokenInfo.status {}\n", tx,
                                    status_of(r, "idTokenInfo"));
                         return true;
                     }});
        s.push_back({"TransactionEvent",
                     event({"Updated", "ChargingStateChanged", 1, "", "Charging", std::nullopt,
                            std::nullopt, std::nullopt, "Sample.Periodic"}),
                     nullptr});
        s.push_back({"TransactionEvent",
                     event({"Ended", "StopAuthorized", 2, "", "EVConnected", std::string("Local"),
                            token, std::nullopt, "Transaction.End"}),
                     nullptr});
        s.push_back({"MeterValues",
                     [this] {
                         meter_.advance(rng_);
                         return meter_values(version_, meter_, utc_now());
                     },
                     nullptr});
        return s;
    }

    void on_open() {
        const std::string selected = selected_subprotocol(con_);
        fmt::print("connected, subprotocol '{}'\n", selected);
        if (selected != ocpp::subprotocol(version_)) {
            finish(false, "the gateway did not select the requested subprotocol");
            return;
        }
        send_step();
    }

    void on_fail() {
        const auto code = con_->get_response_code();
        if (code != websocketpp::http::status_code::uninitialized) {
            failure_ = fmt::format("connection refused: HTTP {} {}", static_cast<int>(code),
                                   con_->get_response().get_body());
        } else {
            failure_ = fmt::format("connection failed: {}", con_->get_ec().message());
        }
        ok_ = false;
        timer_.cancel();
    }

    void on_close() {
        timer_.cancel();
        if (!closing_) {
            ok_ = false;
            failure_ = fmt::format("the gateway closed the connection: {} {}",
                                   con_->get_remote_close_code(), con_->get_remote_close_reason());
        }
    }

    void send_step() {
        const Step& step = steps_[current_];
        const ocpp::Call call{ocpp::MessageId(std::to_string(current_ + 1)), step.action,
                              step.payload()};
        const std::string text = ocpp::serialize(call);
        fmt::print("-> {}\n", text);
        std::fflush(stdout);
        sent_at_ = Clock::now();
        const auto ec = con_->send(text, websocketpp::frame::opcode::text);
        if (ec) {
            finish(false, fmt::format("send failed: {}", ec.message()));
            return;
        }
        timer_.expires_after(options_.timeout);
        timer_.async_wait([this](const asio::error_code& ec) {
            if (!ec) {
                finish(false, fmt::format("no answer to {} within {} ms", steps_[current_].action,
                                          options_.timeout.count()));
            }
        });
    }

    void on_message(const std::string& text) {
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent_at_).count();
        auto parsed = ocpp::parse_frame(text);
        if (!parsed) {
            fmt::print("<- {}\n   (not an OCPP-J frame: {})\n", text, parsed.error().detail);
            return;
        }
        auto& frame = parsed.value();
        if (const auto* call = std::get_if<ocpp::Call>(&frame)) {
            fmt::print("<- {}   (CALL from the gateway, answered NotImplemented)\n", text);
            const auto reply = ocpp::make_call_error(
                call->id.get(), ocpp::CallErrorCode::NotImplemented, version_,
                "ocpp-loadgen does not handle central-system calls");
            (void)con_->send(ocpp::serialize(reply), websocketpp::frame::opcode::text);
            return;
        }
        const std::string expected = std::to_string(current_ + 1);
        if (const auto* error = std::get_if<ocpp::CallError>(&frame)) {
            fmt::print("<- {}   ({:.1f} ms)\n", text, ms);
            if (error->id.get() == expected) {
                timer_.cancel();
                finish(false, fmt::format("{} answered with CALLERROR {}: {}",
                                          steps_[current_].action, error->code, error->description));
            }
            return;
        }
        const auto& result = std::get<ocpp::CallResult>(frame);
        fmt::print("<- {}   ({:.1f} ms)\n", text, ms);
        if (result.id.get() != expected) {
            fmt::print("   (answer to no open CALL)\n");
            return;
        }
        timer_.cancel();
        ++answered_;
        const Step& step = steps_[current_];
        if (step.on_result && !step.on_result(result.payload)) {
            finish(false, failure_);
            return;
        }
        if (++current_ == steps_.size()) {
            finish(true, "");
            return;
        }
        send_step();
    }

    void finish(bool ok, std::string why) {
        ok_ = ok;
        failure_ = std::move(why);
        closing_ = true;
        timer_.cancel();
        websocketpp::lib::error_code ec;
        con_->close(websocketpp::close::status::normal, ok ? "session complete" : "session failed",
                    ec);
        std::fflush(stdout);
    }

    const Options& options_;
    const ocpp::ProtocolVersion version_;
    const std::string id_;
    const std::string url_;
    const std::string host_;
    asio::io_context io_;
    Client client_;
    asio::steady_timer timer_;
    typename Client::connection_ptr con_;
    std::vector<Step> steps_;
    std::size_t current_ = 0;
    std::size_t answered_ = 0;
    Clock::time_point sent_at_;
    Meter meter_;
    Xorshift rng_{42};
    std::int64_t transaction_id_ = 0;
    bool ok_ = false;
    bool closing_ = false;
    std::string failure_ = "did not complete";
};

}  // namespace

int run_session(const Options& options, const std::vector<Target>& targets) {
    if (!targets.front().tls) {
        SessionDemo<PlainConfig> demo(options, targets.front(), nullptr);
        return demo.run();
    }
    auto tls = TlsClientSetup::create(options);
    if (!tls) {
        fmt::print(stderr, "ocpp-loadgen: {}\n", tls.error());
        return 2;
    }
    SessionDemo<TlsConfig> demo(options, targets.front(), &tls.value());
    return demo.run();
}

}  // namespace loadgen
