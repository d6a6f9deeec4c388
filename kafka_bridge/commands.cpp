#include "kafka_bridge/commands.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "kafka_bridge/record_json.hpp"
#include "ocpp/actions.hpp"
#include "ocpp/rfc3339.hpp"
#include "ocpp/types.hpp"
#include "ocpp/json_writer.hpp"

namespace kafka_bridge {
namespace {

using json = nlohmann::json;

json violations_json(const std::vector<ocpp::Violation>& violations) {
    json out = json::array();
    for (const auto& v : violations) {
        out.push_back({{"path", v.path.empty() ? "/" : v.path}, {"message", v.message}});
    }
    return out;
}

int digits(std::string_view s, std::size_t pos, std::size_t n) {
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v = v * 10 + (s[pos + i] - '0');
    }
    return v;
}

// The fields of a command record, nothing else: a misspelt field is an error, not ignored.
constexpr std::string_view kCommandFields[] = {"commandId", "stationId", "action",
                                               "payload",   "timeoutMs", "expiresAt"};

}  // namespace

std::string_view command_status_name(CommandStatus s) {
    switch (s) {
        case CommandStatus::completed: return "Completed";
        case CommandStatus::call_error: return "CallError";
        case CommandStatus::timeout: return "Timeout";
        case CommandStatus::not_connected: return "NotConnected";
        case CommandStatus::rejected: return "Rejected";
        case CommandStatus::expired: return "Expired";
        case CommandStatus::superseded: return "Superseded";
    }
    return "Unknown";
}

std::int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

// Civil dates to and from days since 1970-01-01 in the proleptic Gregorian calendar, by
// 400-year eras (146,097 days each) of years that start on 1 March, so the leap day ends the
// year. Pure arithmetic: gmtime_r and timegm take glibc's time-zone lock on every call, and a
// station message needs several.
constexpr std::int64_t kDaysPerEra = 146097;

std::int64_t days_from_civil(std::int64_t year, int month, int day) {
    year -= month <= 2 ? 1 : 0;
    const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
    const std::int64_t year_of_era = year - era * 400;                         // [0, 399]
    const int shifted_month = month > 2 ? month - 3 : month + 9;                // March is 0
    const std::int64_t day_of_year = (153 * shifted_month + 2) / 5 + day - 1;  // [0, 365]
    const std::int64_t day_of_era =  // [0, 146096]
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * kDaysPerEra + day_of_era - 719468;  // 0000-03-01 is 719,468 days before 1970
}

struct CivilDate {
    std::int64_t year;
    int month;
    int day;
};

CivilDate civil_from_days(std::int64_t days) {
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - (kDaysPerEra - 1)) / kDaysPerEra;
    const std::int64_t day_of_era = days - era * kDaysPerEra;  // [0, 146096]
    const std::int64_t year_of_era =  // [0, 399]
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / (kDaysPerEra - 1)) /
        365;
    const std::int64_t day_of_year =  // [0, 365]
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const std::int64_t shifted_month = (5 * day_of_year + 2) / 153;  // March is 0
    const int day = static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    const int month = static_cast<int>(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - (a % b != 0 && (a < 0) != (b < 0) ? 1 : 0);
}

void put_digits(char* out, std::int64_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

}  // namespace

std::optional<std::int64_t> parse_time_ms(std::string_view s) {
    if (!ocpp::is_rfc3339_date_time(s)) {
        return std::nullopt;
    }
    const std::int64_t days = days_from_civil(digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2));
    const std::int64_t seconds = days * 86400 + digits(s, 11, 2) * 3600 + digits(s, 14, 2) * 60 +
                                 std::min(digits(s, 17, 2), 59);  // a leap second counts as :59
    std::int64_t ms = seconds * 1000;
    std::size_t pos = 19;
    if (pos < s.size() && s[pos] == '.') {
        int scale = 100;
        for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) {
            ms += (s[pos] - '0') * scale;
            scale /= 10;
        }
    }
    if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        const int offset_min = digits(s, pos + 1, 2) * 60 + digits(s, pos + 4, 2);
        ms -= (s[pos] == '+' ? 1 : -1) * static_cast<std::int64_t>(offset_min) * 60000;
    }
    return ms;
}

std::string format_time_ms(std::int64_t unix_ms) {
    const std::int64_t days = floor_div(unix_ms, 86400000);
    const std::int64_t ms_of_day = unix_ms - days * 86400000;
    const CivilDate date = civil_from_days(days);
    if (date.year < 0 || date.year > 9999) {
        // Outside what RFC 3339 can write; not a time any record carries.
        return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", date.year, date.month,
                           date.day, ms_of_day / 3600000, ms_of_day / 60000 % 60,
                           ms_of_day / 1000 % 60, ms_of_day % 1000);
    }
    std::string out = "0000-00-00T00:00:00.000Z";
    put_digits(&out[0], date.year, 4);
    put_digits(&out[5], date.month, 2);
    put_digits(&out[8], date.day, 2);
    put_digits(&out[11], ms_of_day / 3600000, 2);
    put_digits(&out[14], ms_of_day / 60000 % 60, 2);
    put_digits(&out[17], ms_of_day / 1000 % 60, 2);
    put_digits(&out[20], ms_of_day % 1000, 3);
    return out;
}

ocpp::Result<Command, CommandProblem> parse_command(const std::optional<std::string>& key,
                                                    std::string_view value,
                                                    std::int64_t timestamp_ms,
                                                    const std::string& received_at,
                                                    const CommandDefaults& defaults) {
    CommandProblem problem;
    problem.station_id = key.value_or("");
    auto read = read_record_json(value);
    if (!read.ok() || !read.value().is_object()) {
        problem.reason = read.ok() ? "the record value is not a JSON object"
                                   : "the record value is not a JSON object: " + read.error();
        return problem;
    }
    const json doc = std::move(read).value();
    if (const auto it = doc.find("commandId"); it != doc.end()) {
        if (!it->is_string() || it->get_ref<const std::string&>().empty() ||
            ocpp::utf8_characters(it->get_ref<const std::string&>()) > kMaxCommandIdLength) {
            problem.reason = "commandId must be a string of 1 to 128 characters";
            return problem;
        }
        problem.command_id = it->get<std::string>();
    } else {
        problem.reason = "commandId is missing";
        return problem;
    }
    if (const auto it = doc.find("stationId"); it != doc.end() && it->is_string()) {
        problem.station_id = it->get<std::string>();
    }
    if (const auto it = doc.find("action"); it != doc.end() && it->is_string()) {
        problem.action = it->get<std::string>();
    }
    for (const auto& [name, v] : doc.items()) {
        if (std::find(std::begin(kCommandFields), std::end(kCommandFields), name) ==
            std::end(kCommandFields)) {
            problem.reason = "unknown field \"" + name + "\"";
            return problem;
        }
    }
    const auto station = doc.find("stationId");
    if (station == doc.end() || !station->is_string() || station->get_ref<const std::string&>().empty()) {
        problem.reason = "stationId must be a non-empty string";
        return problem;
    }
    if (key && !key->empty() && ocpp::ascii_lower(*key) != ocpp::ascii_lower(station->get_ref<const std::string&>())) {
        problem.reason = "the record key \"" + *key + "\" is not the stationId";
        return problem;
    }
    const auto action = doc.find("action");
    if (action == doc.end() || !action->is_string() || action->get_ref<const std::string&>().empty()) {
        problem.reason = "action must be a non-empty string";
        return problem;
    }
    const auto payload = doc.find("payload");
    if (payload == doc.end() || !payload->is_object()) {
        problem.reason = "payload must be a JSON object";
        return problem;
    }
    if (const std::size_t bytes = ocpp::write_json(*payload).size(); bytes > defaults.max_payload_bytes) {
        problem.reason = "the payload is " + std::to_string(bytes) + " bytes of JSON; a command may carry " +
                         std::to_string(defaults.max_payload_bytes) +
                         " (limits.max_message_bytes, less room for the records that carry it on)";
        return problem;
    }
    Command c;
    c.command_id = *problem.command_id;
    c.station_id = station->get<std::string>();
    c.action = action->get<std::string>();
    c.payload = *payload;
    c.received_at = received_at;
    c.timeout = defaults.timeout;
    if (const auto t = doc.find("timeoutMs"); t != doc.end()) {
        if (!t->is_number_integer() || t->get<std::int64_t>() < 1 ||
            t->get<std::int64_t>() > kMaxCommandTimeoutMs) {
            problem.reason = "timeoutMs must be an integer from 1 to 600000";
            return problem;
        }
        c.timeout = std::chrono::milliseconds(t->get<std::int64_t>());
    }
    if (const auto e = doc.find("expiresAt"); e != doc.end()) {
        const auto ms = e->is_string() ? parse_time_ms(e->get_ref<const std::string&>()) : std::nullopt;
        if (!ms) {
            problem.reason = "expiresAt must be an RFC 3339 date-time";
            return problem;
        }
        const std::int64_t base = timestamp_ms > 0 ? timestamp_ms : unix_now_ms();
        if (*ms > base + kMaxCommandLifetimeMs) {
            problem.reason = "expiresAt must be at most 24 h after the command was written "
                             "(a command id is recognised again for 24 h)";
            return problem;
        }
        c.expires_at_ms = *ms;
    } else {
        const std::int64_t base = timestamp_ms > 0 ? timestamp_ms : unix_now_ms();
        c.expires_at_ms = base + defaults.max_age.count();
    }
    return c;
}

namespace {

struct ErrorRow {
    CommandStatus status;
    std::string_view code;
};
constexpr std::array<ErrorRow, kCommandErrorCount> kErrors = {{
    {CommandStatus::timeout, "NoResponse"},
    {CommandStatus::not_connected, "StationNotConnected"},
    {CommandStatus::not_connected, "ConnectionClosed"},
    {CommandStatus::not_connected, "GatewayUnavailable"},
    {CommandStatus::rejected, "UnknownAction"},
    {CommandStatus::rejected, "InvalidPayload"},
    {CommandStatus::rejected, "InvalidCommand"},
    {CommandStatus::rejected, "QueueFull"},
    {CommandStatus::rejected, "NotAccepted"},
    {CommandStatus::expired, "Expired"},
    {CommandStatus::superseded, "Superseded"},
}};

}  // namespace

CommandStatus command_error_status(CommandError e) {
    return kErrors[static_cast<std::size_t>(e)].status;
}

std::string_view command_error_code(CommandError e) {
    return kErrors[static_cast<std::size_t>(e)].code;
}

CommandOutcome CommandOutcome::failure(CommandError error, std::string description) {
    CommandOutcome o;
    o.status = command_error_status(error);
    o.error_code = std::string(command_error_code(error));
    o.error_description = std::move(description);
    return o;
}

CommandOutcome CommandOutcome::station_error(std::string code, std::string description,
                                             std::optional<nlohmann::json> details) {
    CommandOutcome o;
    o.status = CommandStatus::call_error;
    o.sent = true;
    o.error_code = std::move(code);
    o.error_description = std::move(description);
    o.error_details = std::move(details);
    return o;
}

std::string command_result(const std::string& command_id, const std::string& station_id,
                           const std::string& action, const std::string& received_at,
                           const CommandOutcome& o, std::string_view gateway_id,
                           std::string_view completed_at) {
    json r = {
        {"commandId", command_id},
        {"status", command_status_name(o.status)},
        {"sent", o.sent},
        {"gatewayId", gateway_id},
        {"receivedAt", received_at},
        {"completedAt", completed_at},
    };
    // Empty only for a malformed command that lacked them: left out rather than invented.
    if (!station_id.empty()) {
        r["stationId"] = station_id;
    }
    if (!action.empty()) {
        r["action"] = action;
    }
    if (o.status == CommandStatus::completed) {
        r["response"] = o.response.value_or(json::object());
        if (!o.response_violations.empty()) {
            r["responseViolations"] = violations_json(o.response_violations);
        }
        if (o.response_repairs) {
            r["responseRepairs"] = *o.response_repairs;
        }
    } else {
        json error = {{"code", o.error_code}, {"description", o.error_description}};
        if (o.error_details) {
            error["details"] = *o.error_details;
        }
        r["error"] = std::move(error);
    }
    if (!o.violations.empty()) {
        r["violations"] = violations_json(o.violations);
    }
    if (o.message_id) {
        r["messageId"] = *o.message_id;
    }
    if (o.version) {
        r["ocppVersion"] = ocpp::version_label(*o.version);
    }
    if (o.sent_at) {
        r["sentAt"] = *o.sent_at;
    }
    return ocpp::write_json(r);
}

std::string command_route(const CommandRoute& route) {
    const Command& c = route.command;
    json doc = {{"commandId", c.command_id},
                {"stationId", c.station_id},
                {"action", c.action},
                {"payload", c.payload},
                {"timeoutMs", c.timeout.count()},
                {"expiresAt", format_time_ms(c.expires_at_ms)},
                {"receivedAt", c.received_at},
                {"target", route.target},
                {"origin", c.origin},
                {"hop", c.hop}};
    if (route.result) {
        doc["result"] = json::parse(*route.result);
    }
    if (route.target_run > 0) {
        doc["targetRun"] = route.target_run;
    }
    if (route.origin_run > 0) {
        doc["originRun"] = route.origin_run;
    }
    if (route.ends > 0) {
        doc["ends"] = route.ends;
    }
    return ocpp::write_json(doc);
}

ocpp::Result<CommandRoute, std::string> parse_command_route(std::string_view value) {
    auto read = read_record_json(value);
    if (!read.ok()) {
        return "not a JSON object: " + read.error();
    }
    const json doc = std::move(read).value();
    try {
        if (!doc.is_object()) {
            return std::string("not a JSON object");
        }
        CommandRoute route;
        Command& c = route.command;
        c.command_id = doc.at("commandId").get<std::string>();
        c.station_id = doc.at("stationId").get<std::string>();
        c.action = doc.at("action").get<std::string>();
        c.payload = doc.at("payload");
        const auto& timeout = doc.at("timeoutMs");
        const auto& hop = doc.at("hop");
        if (!timeout.is_number_integer() || !hop.is_number_integer() ||
            timeout.get<std::int64_t>() < 1 || timeout.get<std::int64_t>() > kMaxCommandTimeoutMs ||
            hop.get<std::int64_t>() < 0 || hop.get<std::int64_t>() > kMaxCommandHops + 1) {
            return std::string("timeoutMs or hop out of range");
        }
        c.timeout = std::chrono::milliseconds(timeout.get<std::int64_t>());
        const auto expires = parse_time_ms(doc.at("expiresAt").get<std::string>());
        if (!expires) {
            return std::string("expiresAt is not a date-time");
        }
        c.expires_at_ms = *expires;
        c.received_at = doc.at("receivedAt").get<std::string>();
        c.origin = doc.at("origin").get<std::string>();
        c.hop = static_cast<int>(hop.get<std::int64_t>());
        route.target = doc.at("target").get<std::string>();
        if (const auto it = doc.find("result"); it != doc.end()) {
            if (!it->is_object() || !route.target.empty()) {
                return std::string("result must be an object, and only on a route without target");
            }
            route.result = it->dump();
        }
        for (const auto& [name, run] : {std::pair<const char*, std::int64_t*>{"targetRun", &route.target_run},
                                        {"originRun", &route.origin_run}}) {
            if (const auto it = doc.find(name); it != doc.end()) {
                if (!it->is_number_integer() || it->get<std::int64_t>() < 1) {
                    return std::string(name) + " must be a positive integer";
                }
                *run = it->get<std::int64_t>();
            }
        }
        if (const auto it = doc.find("ends"); it != doc.end()) {
            if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
                it->get<std::int64_t>() > kMaxRouteClaims || !route.result) {
                return "ends must be 1.." + std::to_string(kMaxRouteClaims) +
                       ", on a route that carries a result";
            }
            route.ends = static_cast<int>(it->get<std::int64_t>());
        }
        return route;
    } catch (const json::exception& e) {
        return std::string(e.what());
    }
}

std::string presence_key(std::string_view station_id) { return ocpp::ascii_lower(station_id); }

std::string gateway_key(std::string_view gateway_id) { return "gateway:" + std::string(gateway_id); }

std::string presence_record(const Presence& p) {
    json r = {{"stationId", p.station_id},
              {"gatewayId", p.gateway_id},
              {"state", p.connected ? "Connected" : "Disconnected"},
              {"sessionId", p.session_id},
              {"since", p.since},
              {"at", p.at}};
    if (p.epoch >= 0) {
        r["epoch"] = p.epoch;
    }
    if (p.version) {
        r["ocppVersion"] = ocpp::version_label(*p.version);
    }
    return ocpp::write_json(r);
}

std::string gateway_record(std::string_view gateway_id, bool alive, std::string_view at,
                           std::int64_t run) {
    json r = {{"kind", "gateway"},
              {"gatewayId", gateway_id},
              {"state", alive ? "Alive" : "Stopped"},
              {"at", at}};
    if (run > 0) {
        r["run"] = run;
    }
    return ocpp::write_json(r);
}

}  // namespace kafka_bridge
