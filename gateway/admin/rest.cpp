// REST v1 of the admin listener (docs/commands.md): operator commands and station lookup.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>

#include <nlohmann/json.hpp>

#include "gateway/admin/admin_server.hpp"
#include "gateway/commands/router.hpp"
#include "gateway/http/url.hpp"
#include "gateway/security/basic_auth.hpp"
#include "kafka_bridge/envelope.hpp"
#include "kafka_bridge/record_json.hpp"
#include "ocpp/identity.hpp"
#include "ocpp/json_writer.hpp"

namespace gateway::admin {
namespace {

using json = nlohmann::json;
using status = websocketpp::http::status_code::value;

// Longest a REST caller is kept waiting for a result, whatever the command's own deadlines.
constexpr std::chrono::minutes kMaxRestWait{15};
// Margin for the result record to travel back after the command's last deadline.
constexpr std::chrono::seconds kRestWaitMargin{10};

bool same_station(const std::string& a, const std::string& b) {
    // Station ids are matched regardless of letter case (docs/commands.md).
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

/// The problem with answering a call for `station`/`action` with `result` (a result record of
/// the same commandId), or nothing when it is that call's: a commandId used again for another
/// station or action.
std::optional<std::string> other_command(const json& result, const std::string& station,
                                         const std::string& action) {
    const auto text = [&result](const char* field) {
        const auto it = result.find(field);
        return it != result.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    const std::string result_station = text("stationId");
    const std::string result_action = text("action");
    if (same_station(result_station, station) && result_action == action) {
        return std::nullopt;
    }
    return "commandId " + text("commandId") + " was used for " + result_action + " to station " +
           result_station + "; its result is in \"result\" (use a new commandId)";
}

bool valid_action_name(const std::string& action) {
    if (action.empty() || action.size() > 64) {
        return false;
    }
    return std::all_of(action.begin(), action.end(),
                       [](unsigned char c) { return std::isalnum(c) != 0; });
}

}  // namespace

void AdminServer::serve_v1(const Connection& con, const std::string& method,
                           const std::string& path, const std::string& query) {
    if (commands_.empty()) {
        reply_error(con, 404, "operator commands are not enabled on this instance");
        return;
    }
    // [/tenants/{tenant}] /stations, /stations/{id}, /stations/{id}/calls/{action}
    std::vector<std::string> parts;
    for (std::size_t start = 4; start <= path.size();) {
        const auto slash = path.find('/', start);
        parts.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) {
            break;
        }
        start = slash + 1;
    }
    const bool tenanted = !config_.tenants.empty();
    const std::string base = tenanted ? "/v1/tenants/{tenant}/stations" : "/v1/stations";
    std::string tenant;
    if (tenanted) {
        if (parts.size() < 3 || parts[0] != "tenants") {
            reply_error(con, 404, "this gateway serves tenants: GET " + base + ", GET " + base +
                                      "/{id}, POST " + base + "/{id}/calls/{action}");
            return;
        }
        tenant = parts[1];
        parts.erase(parts.begin(), parts.begin() + 2);
    }
    const auto router = commands_.find(tenant);
    if (router == commands_.end()) {
        reply_error(con, 404, "unknown tenant \"" + tenant + "\"");
        return;
    }
    commands::Router& commands = *router->second;
    if (parts.empty() || parts[0] != "stations" || parts.size() == 3 || parts.size() > 4 ||
        (parts.size() == 4 && parts[2] != "calls")) {
        reply_error(con, 404, "unknown path: GET " + base + ", GET " + base + "/{id}, POST " + base +
                                  "/{id}/calls/{action}");
        return;
    }
    const std::string wanted = parts.size() == 4 ? "POST" : "GET";
    if (method != wanted) {
        con->replace_header("Allow", wanted);
        reply_error(con, 405, path + " takes " + wanted);
        return;
    }
    if (parts.size() == 1) {
        reply_json(con, 200, commands.stations());
        return;
    }
    const auto station = http::percent_decode(parts[1]);
    if (!station || ocpp::identity_error(*station)) {
        reply_error(con, 400, "bad station id: " +
                                  (station ? *ocpp::identity_error(*station) : std::string("malformed percent-escape")));
        return;
    }
    if (parts.size() == 2) {
        if (auto view = commands.station(*station)) {
            reply_json(con, 200, *view);
        } else {
            reply_json(con, 404, json{{"stationId", *station}, {"connected", false},
                                      {"error", "this station has not connected to any instance"}});
        }
        return;
    }
    post_call(con, commands, *station, parts[3], query);
}

void AdminServer::post_call(const Connection& con, commands::Router& router,
                            const std::string& station, const std::string& action,
                            const std::string& query) {
    if (!valid_action_name(action)) {
        reply_error(con, 400, "bad action name \"" + action + "\"");
        return;
    }
    if (!con->get_request_header("Transfer-Encoding").empty()) {
        // websocketpp reads no chunked body: the payload would look empty.
        reply_error(con, 411, "send the body with Content-Length (a chunked body is not read)");
        return;
    }
    const auto params = http::parse_query(query);
    if (!params) {
        reply_error(con, 400, "malformed query string");
        return;
    }
    // Everything here goes into records and answers as JSON text, which is UTF-8.
    for (const auto& [name, value] : *params) {
        if (!ocpp::valid_utf8(name) || !ocpp::valid_utf8(value)) {
            reply_error(con, 400, "the query string is not UTF-8 once percent-decoded");
            return;
        }
    }
    json record = {{"stationId", station}, {"action", action}};
    std::string command_id = con->get_request_header("Idempotency-Key");
    if (!ocpp::valid_utf8(command_id)) {
        reply_error(con, 400, "the Idempotency-Key header is not UTF-8");
        return;
    }
    bool id_given = !command_id.empty();
    bool wait = true;
    std::int64_t timeout_ms = config_.commands.default_timeout.count();
    std::optional<std::int64_t> expires_at;
    for (const auto& [name, value] : *params) {
        if (name == "commandId") {
            command_id = value;
            id_given = true;
        } else if (name == "wait") {
            if (value != "true" && value != "false") {
                reply_error(con, 400, "wait must be true or false");
                return;
            }
            wait = value == "true";
        } else if (name == "timeoutMs") {
            char* end = nullptr;
            const long long v = std::strtoll(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || v < 1 || v > kafka_bridge::kMaxCommandTimeoutMs) {
                reply_error(con, 400, "timeoutMs must be an integer from 1 to 600000");
                return;
            }
            timeout_ms = v;
            record["timeoutMs"] = v;
        } else if (name == "expiresAt") {
            expires_at = kafka_bridge::parse_time_ms(value);
            if (!expires_at) {
                reply_error(con, 400, std::string("expiresAt must be an RFC 3339 date-time") +
                                          (value.find(' ') != std::string::npos
                                               ? " (a '+' in a URL query reads as a space: write it %2B)"
                                               : ""));
                return;
            }
            if (*expires_at > kafka_bridge::unix_now_ms() + kafka_bridge::kMaxCommandLifetimeMs) {
                reply_error(con, 400, "expiresAt must be at most 24 h ahead (command ids are "
                                      "remembered for 25 h: a replay later has always expired)");
                return;
            }
            record["expiresAt"] = value;
        } else {
            reply_error(con, 400, "unknown parameter \"" + name +
                                      "\" (commandId, wait, timeoutMs, expiresAt)");
            return;
        }
    }
    if (!id_given) {
        command_id = kafka_bridge::new_uuid();
    } else if (command_id.empty() || ocpp::utf8_characters(command_id) > kafka_bridge::kMaxCommandIdLength) {
        reply_error(con, 400, "commandId must be 1 to 128 characters");
        return;
    }
    record["commandId"] = command_id;
    // The payload is one level down in the command record, which intake reads with the
    // same bound on nesting.
    auto payload = kafka_bridge::read_record_json(con->get_request_body(), kafka_bridge::kMaxRecordDepth - 1);
    if (!payload.ok() || !payload.value().is_object()) {
        reply_error(con, 400, "the body must be a JSON object: the OCPP payload of " + action +
                                  (payload.ok() ? std::string() : " (" + payload.error() + ")"));
        return;
    }
    record["payload"] = std::move(payload).value();

    // Every answer waits for Kafka's verdict on the command record: 202 only once it is on
    // the topic, 503 at once when Kafka refused it.
    con->defer_http_response();
    auto& io = io_;
    const auto answered = std::make_shared<std::atomic<bool>>(false);
    auto answer = [con, &io, answered](int status, json body) {
        asio::post(io, [con, answered, status, body = std::move(body)] {
            if (answered->exchange(true)) {
                return;  // the other path answered first
            }
            reply_json(con, status, body);
            con->send_http_response();
        });
    };
    auto refused = [command_id](const std::string& error) {
        return json{{"commandId", command_id},
                    {"error", "the command could not be written to Kafka: " + error +
                                  " (after a time-out it may still have been: its result "
                                  "would appear on the result topic)"}};
    };
    if (!wait) {
        auto on_written = [answer, refused, command_id](std::optional<std::string> error) {
            answer(error ? 503 : 202, error ? refused(*error) : json{{"commandId", command_id}});
        };
        if (auto error = router.submit(record, nullptr, std::chrono::milliseconds(0),
                                           std::move(on_written))) {
            answer(503, refused(error->message));  // not waiting: never result_gone
        }
        return;
    }
    // The result comes when the station answers, times out, or the command expires unsent.
    const std::int64_t now = kafka_bridge::unix_now_ms();
    const std::int64_t queue_ms =
        expires_at ? std::max<std::int64_t>(0, *expires_at - now) : config_.commands.max_age.count();
    const auto bound = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(queue_ms + timeout_ms) + kRestWaitMargin, kMaxRestWait);
    const auto started = std::chrono::steady_clock::now();
    auto on_result = [con, &io, answered, command_id, bound, station, action,
                      started](std::optional<std::string> result) {
        asio::post(io, [con, answered, result = std::move(result), command_id, bound, station,
                        action, started] {
            if (answered->exchange(true)) {
                return;  // Kafka refused the record and the caller has its 503
            }
            const json parsed = result ? kafka_bridge::parse_record_json(*result) : json();
            if (result && parsed.is_object()) {
                if (auto other = other_command(parsed, station, action)) {
                    reply_json(con, 409, json{{"commandId", command_id}, {"error", *other},
                                              {"result", parsed}});
                    con->send_http_response();
                    return;
                }
            }
            if (result) {
                con->set_status(websocketpp::http::status_code::ok);
                con->replace_header("Content-Type", "application/json");
                con->set_body(*result + "\n");
            } else {
                // Before the bound: the instance is stopping (the waits end with it).
                const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started);
                const std::string when = waited < bound
                                             ? "before this instance stopped (after " + std::to_string(waited.count()) + " ms)"
                                             : "within " + std::to_string(bound.count()) + " ms";
                reply_json(con, 504,
                           json{{"commandId", command_id},
                                {"error", "no result " + when + "; it will still appear on the result topic, "
                                              "unless the commandId was taken by a command for "
                                              "another station or action (then the record is on "
                                              "the dead-letter topic)"}});
            }
            con->send_http_response();
        });
    };
    auto on_written = [answer, refused](std::optional<std::string> error) {
        if (error) {
            answer(503, refused(*error));
        }
    };
    if (auto error = router.submit(record, on_result, bound, std::move(on_written))) {
        if (error->kind == commands::Router::SubmitError::Kind::result_gone) {
            answer(410, json{{"commandId", command_id}, {"error", error->message}});
        } else {
            answer(503, refused(error->message));
        }
    }
}

}  // namespace gateway::admin
