#include "tools/loadgen/report.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "tools/loadgen/target.hpp"

namespace loadgen {

namespace {

void add_all(std::map<std::string, std::uint64_t>& into,
             const std::map<std::string, std::uint64_t>& from) {
    for (const auto& [k, v] : from) {
        into[k] += v;
    }
}

double per_second(std::uint64_t n, double seconds) {
    return seconds > 0 ? static_cast<double>(n) / seconds : 0.0;
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// Rounds to microseconds so JSON shows 0.412 rather than 0.41234500000000003.
double round_us(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace

void ConnectionStats::merge(const ConnectionStats& o) {
    attempted += o.attempted;
    connected += o.connected;
    failed += o.failed;
    retried += o.retried;
    boot_accepted += o.boot_accepted;
    boot_not_accepted += o.boot_not_accepted;
    boot_errors += o.boot_errors;
    boot_timeouts += o.boot_timeouts;
    closed_by_peer += o.closed_by_peer;
    add_all(errors, o.errors);
}

void CallStats::merge(CallStats&& o) {
    sent += o.sent;
    results += o.results;
    errors += o.errors;
    timeouts += o.timeouts;
    skipped += o.skipped;
    lost += o.lost;
    answered_in_window += o.answered_in_window;
    add_all(errors_by_code, o.errors_by_code);
    for (std::size_t i = 0; i < kActionCount; ++i) {
        sent_by_action[i] += o.sent_by_action[i];
    }
    if (latencies_ns.empty()) {
        latencies_ns = std::move(o.latencies_ns);
    } else {
        latencies_ns.insert(latencies_ns.end(), o.latencies_ns.begin(), o.latencies_ns.end());
    }
}

void Oddities::merge(const Oddities& o) {
    late_answers += o.late_answers;
    unknown_answers += o.unknown_answers;
    unparsable += o.unparsable;
    gateway_calls += o.gateway_calls;
}

void StormStats::merge(StormStats&& o) {
    dropped += o.dropped;
    booted += o.booted;
    failed += o.failed;
    first_results += o.first_results;
    first_errors += o.first_errors;
    first_timeouts += o.first_timeouts;
    first_lost += o.first_lost;
    tls_resumed += o.tls_resumed;
    for (const auto& [k, v] : o.first_errors_by_code) {
        first_errors_by_code[k] += v;
    }
    const auto append = [](std::vector<std::uint64_t>& into, std::vector<std::uint64_t>& from) {
        into.insert(into.end(), from.begin(), from.end());
    };
    append(to_booted_ns, o.to_booted_ns);
    append(boot_ns, o.boot_ns);
    append(first_call_ns, o.first_call_ns);
    last_booted = std::max(last_booted, o.last_booted);
}

Percentiles percentiles(std::vector<std::uint64_t>& ns) {
    Percentiles p;
    p.samples = ns.size();
    if (ns.empty()) {
        return p;
    }
    std::sort(ns.begin(), ns.end());
    const auto rank = [&](double q) {
        // Nearest rank: the smallest sample with at least q of all samples at or below it.
        auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ns.size())));
        k = std::clamp<std::size_t>(k, 1, ns.size());
        return ms(ns[k - 1]);
    };
    p.p50 = rank(0.50);
    p.p95 = rank(0.95);
    p.p99 = rank(0.99);
    p.p999 = rank(0.999);
    p.max = ms(ns.back());
    const long double sum = std::accumulate(ns.begin(), ns.end(), 0.0L);
    p.mean = static_cast<double>(sum / static_cast<long double>(ns.size())) / 1e6;
    return p;
}

void count_versions(Report& r) {
    r.stations_v16 = 0;
    r.stations_v201 = 0;
    for (std::size_t i = 0; i < r.options.stations; ++i) {
        if (station_version(i, r.options.v201_share) == ocpp::ProtocolVersion::v201) {
            ++r.stations_v201;
        } else {
            ++r.stations_v16;
        }
    }
}

void print_report(Report& r) {
    if (r.options.json) {
        fmt::print("{}\n", json_report(r).dump());
    } else {
        fmt::print("{}", text_report(r));
    }
}

nlohmann::json raw_report(const Report& r) {
    using nlohmann::json;
    const auto& c = r.connections;
    const auto& k = r.calls;
    const auto& s = r.storm_stats;
    return json{
        {"ramp_up_s", r.ramp_up_s},
        {"traffic", r.traffic},
        {"storm", r.storm},
        {"storm_all_booted_s", r.storm_all_booted_s},
        {"connections",
         {{"attempted", c.attempted}, {"connected", c.connected}, {"failed", c.failed},
          {"retried", c.retried}, {"boot_accepted", c.boot_accepted},
          {"boot_not_accepted", c.boot_not_accepted}, {"boot_errors", c.boot_errors},
          {"boot_timeouts", c.boot_timeouts}, {"closed_by_peer", c.closed_by_peer},
          {"errors", c.errors}}},
        {"calls",
         {{"sent", k.sent}, {"results", k.results}, {"errors", k.errors},
          {"timeouts", k.timeouts}, {"skipped", k.skipped}, {"lost", k.lost},
          {"answered_in_window", k.answered_in_window}, {"errors_by_code", k.errors_by_code},
          {"sent_by_action", k.sent_by_action}, {"latencies_ns", k.latencies_ns}}},
        {"oddities",
         {{"late_answers", r.oddities.late_answers},
          {"unknown_answers", r.oddities.unknown_answers},
          {"unparsable", r.oddities.unparsable},
          {"gateway_calls", r.oddities.gateway_calls}}},
        {"storm_stats",
         {{"dropped", s.dropped}, {"booted", s.booted}, {"failed", s.failed},
          {"first_results", s.first_results}, {"first_errors", s.first_errors},
          {"first_timeouts", s.first_timeouts}, {"first_lost", s.first_lost},
          {"tls_resumed", s.tls_resumed}, {"first_errors_by_code", s.first_errors_by_code},
          {"to_booted_ns", s.to_booted_ns}, {"boot_ns", s.boot_ns},
          {"first_call_ns", s.first_call_ns}}},
    };
}

void merge_raw(Report& into, const nlohmann::json& raw) {
    into.ramp_up_s = std::max(into.ramp_up_s, raw.at("ramp_up_s").get<double>());
    into.traffic = into.traffic || raw.at("traffic").get<bool>();
    into.storm = into.storm || raw.at("storm").get<bool>();
    into.storm_all_booted_s =
        std::max(into.storm_all_booted_s, raw.at("storm_all_booted_s").get<double>());
    const auto& jc = raw.at("connections");
    ConnectionStats c;
    c.attempted = jc.at("attempted");
    c.connected = jc.at("connected");
    c.failed = jc.at("failed");
    c.retried = jc.at("retried");
    c.boot_accepted = jc.at("boot_accepted");
    c.boot_not_accepted = jc.at("boot_not_accepted");
    c.boot_errors = jc.at("boot_errors");
    c.boot_timeouts = jc.at("boot_timeouts");
    c.closed_by_peer = jc.at("closed_by_peer");
    c.errors = jc.at("errors").get<std::map<std::string, std::uint64_t>>();
    into.connections.merge(c);
    const auto& jk = raw.at("calls");
    CallStats k;
    k.sent = jk.at("sent");
    k.results = jk.at("results");
    k.errors = jk.at("errors");
    k.timeouts = jk.at("timeouts");
    k.skipped = jk.at("skipped");
    k.lost = jk.at("lost");
    k.answered_in_window = jk.at("answered_in_window");
    k.errors_by_code = jk.at("errors_by_code").get<std::map<std::string, std::uint64_t>>();
    k.sent_by_action = jk.at("sent_by_action").get<std::array<std::uint64_t, kActionCount>>();
    k.latencies_ns = jk.at("latencies_ns").get<std::vector<std::uint64_t>>();
    into.calls.merge(std::move(k));
    const auto& jo = raw.at("oddities");
    Oddities d;
    d.late_answers = jo.at("late_answers");
    d.unknown_answers = jo.at("unknown_answers");
    d.unparsable = jo.at("unparsable");
    d.gateway_calls = jo.at("gateway_calls");
    into.oddities.merge(d);
    const auto& js = raw.at("storm_stats");
    StormStats s;
    s.dropped = js.at("dropped");
    s.booted = js.at("booted");
    s.failed = js.at("failed");
    s.first_results = js.at("first_results");
    s.first_errors = js.at("first_errors");
    s.first_timeouts = js.at("first_timeouts");
    s.first_lost = js.at("first_lost");
    s.tls_resumed = js.at("tls_resumed");
    s.first_errors_by_code =
        js.at("first_errors_by_code").get<std::map<std::string, std::uint64_t>>();
    s.to_booted_ns = js.at("to_booted_ns").get<std::vector<std::uint64_t>>();
    s.boot_ns = js.at("boot_ns").get<std::vector<std::uint64_t>>();
    s.first_call_ns = js.at("first_call_ns").get<std::vector<std::uint64_t>>();
    into.storm_stats.merge(std::move(s));
}

std::string text_report(Report& r) {
    const Options& o = r.options;
    const auto& c = r.connections;
    const auto& k = r.calls;
    std::string out;
    auto line = [&out](auto&&... args) {
        out += fmt::format(std::forward<decltype(args)>(args)...);
        out += '\n';
    };
    line("ocpp-loadgen report: {} stations ({} ocpp1.6, {} ocpp2.0.1) -> {}", o.stations,
         r.stations_v16, r.stations_v201, fmt::join(o.urls, " "));
    if (o.idle) {
        line("  mode                idle for {:.1f} s", o.duration_s);
    } else if (o.storm) {
        line("  mode                storm: drop every connection, reconnect at {:.0f}/s",
             o.connect_rate);
    } else {
        line("  mode                mix {}, {:.0f} CALLs/s target, {:.1f} s warm-up + {:.1f} s "
             "measured, {} thread(s)",
             mix_name(o.mix), o.rate, o.warmup_s, o.duration_s, o.threads);
    }
    if (o.processes > 1) {
        line("  processes           {}, each with {} thread(s); every count is their sum",
             o.processes, o.threads);
    }
    if (!o.source_addresses.empty()) {
        line("  source addresses    {} ({} .. {})", o.source_addresses.size(),
             o.source_addresses.front().to_string(), o.source_addresses.back().to_string());
    }
    line("");
    line("Connections (ramp-up {:.2f} s, not measured)", r.ramp_up_s);
    line("  connected           {} of {} ({} failed, {} attempts tried again)", c.connected,
         c.attempted, c.failed, c.retried);
    line("  BootNotification    {} accepted, {} pending/rejected, {} CALLERROR, {} timeouts",
         c.boot_accepted, c.boot_not_accepted, c.boot_errors, c.boot_timeouts);
    line("  closed by gateway   {}", c.closed_by_peer);
    if (c.errors.empty()) {
        line("  connection errors   none");
    } else {
        line("  connection errors");
        for (const auto& [what, n] : c.errors) {
            line("    {:>8}  {}", n, what);
        }
    }
    if (r.storm) {
        const StormStats& s = r.storm_stats;
        line("");
        line("Storm (connections above include the reconnections)");
        line("  dropped             {}", s.dropped);
        line("  booted again        {} ({} failed), the last {:.2f} s after the drop", s.booted,
             s.failed, r.storm_all_booted_s);
        if (o.tls_resume) {
            line("  TLS resumed         {}", s.tls_resumed);
        }
        line("  first CALL          {} CALLRESULTs, {} CALLERRORs, {} timeouts, {} lost",
             s.first_results, s.first_errors, s.first_timeouts, s.first_lost);
        for (const auto& [code, n] : s.first_errors_by_code) {
            line("    {:>8}  {}", n, code);
        }
        const auto show = [&](const char* what, std::vector<std::uint64_t>& ns) {
            const Percentiles p = percentiles(ns);
            if (p.samples == 0) {
                line("  {:<19} no samples", what);
            } else {
                line("  {:<19} p50 {:.1f}   p99 {:.1f}   max {:.1f} ms   ({} samples)", what,
                     p.p50, p.p99, p.max, p.samples);
            }
        };
        show("to booted", r.storm_stats.to_booted_ns);
        show("BootNotification", r.storm_stats.boot_ns);
        show("first CALL", r.storm_stats.first_call_ns);
    }
    if (!r.traffic) {
        return out;
    }
    line("");
    line("Measured window {:.2f} s", r.window_s);
    line("  CALLs sent          {} ({:.1f}/s)", k.sent, per_second(k.sent, r.window_s));
    std::string by_action;
    for (std::size_t i = 0; i < kActionCount; ++i) {
        if (k.sent_by_action[i] != 0) {
            by_action += fmt::format("{}{} {}", by_action.empty() ? "" : ", ",
                                     action_name(static_cast<Action>(i)), k.sent_by_action[i]);
        }
    }
    if (!by_action.empty()) {
        line("    by action         {}", by_action);
    }
    line("  CALLRESULTs         {}", k.results);
    line("  CALLERRORs          {}", k.errors);
    for (const auto& [code, n] : k.errors_by_code) {
        line("    {:>8}  {}", n, code);
    }
    line("  timeouts            {} (no answer within {} ms)", k.timeouts, o.timeout.count());
    line("  skipped             {} (no free station at the scheduled time)", k.skipped);
    line("  lost                {} (connection closed with the CALL open)", k.lost);
    line("  achieved            {:.1f} msgs/s (answers received inside the window)",
         per_second(k.answered_in_window, r.window_s));
    const auto& d = r.oddities;
    if (d.late_answers + d.unknown_answers + d.unparsable + d.gateway_calls != 0) {
        line("  oddities            {} late answers, {} answers to no open CALL, {} unparsable, "
             "{} CALLs from the gateway",
             d.late_answers, d.unknown_answers, d.unparsable, d.gateway_calls);
    }
    const Percentiles p = percentiles(r.calls.latencies_ns);
    line("");
    line("Latency, scheduled send -> answer (ms, {} samples, exact)", p.samples);
    if (p.samples == 0) {
        line("  no samples");
    } else {
        line("  p50 {:.3f}   p95 {:.3f}   p99 {:.3f}   p99.9 {:.3f}   max {:.3f}   mean {:.3f}",
             p.p50, p.p95, p.p99, p.p999, p.max, p.mean);
    }
    return out;
}

nlohmann::json json_report(Report& r) {
    using nlohmann::json;
    const Options& o = r.options;
    const auto& c = r.connections;
    const auto& k = r.calls;
    json sources = json::array();
    for (const auto& a : o.source_addresses) {
        sources.push_back(a.to_string());
    }
    json j = {
        {"url", o.urls.front()},
        {"urls", o.urls},
        {"mode", o.idle ? "idle" : o.storm ? "storm" : "load"},
        {"stations", {{"total", o.stations}, {"ocpp1.6", r.stations_v16}, {"ocpp2.0.1", r.stations_v201}}},
        {"threads", o.threads},
        {"processes", o.processes},
        {"source_addresses", sources.size()},
        {"ramp_up_s", round_us(r.ramp_up_s)},
        {"connections",
         {{"attempted", c.attempted},
          {"connected", c.connected},
          {"failed", c.failed},
          {"retried", c.retried},
          {"closed_by_gateway", c.closed_by_peer},
          {"errors", c.errors}}},
        {"boot",
         {{"accepted", c.boot_accepted},
          {"pending_or_rejected", c.boot_not_accepted},
          {"call_errors", c.boot_errors},
          {"timeouts", c.boot_timeouts}}},
    };
    if (o.idle) {
        j["idle_s"] = o.duration_s;
    }
    if (r.storm) {
        StormStats& s = r.storm_stats;
        const auto dist = [](std::vector<std::uint64_t>& ns) {
            const Percentiles p = percentiles(ns);
            return json{{"samples", p.samples}, {"p50", round_us(p.p50)}, {"p99", round_us(p.p99)},
                        {"max", round_us(p.max)}, {"mean", round_us(p.mean)}};
        };
        j["storm"] = {{"dropped", s.dropped},
                      {"booted", s.booted},
                      {"failed", s.failed},
                      {"all_booted_s", round_us(r.storm_all_booted_s)},
                      {"tls_resumed", s.tls_resumed},
                      {"first_call",
                       {{"call_results", s.first_results},
                        {"call_errors", s.first_errors},
                        {"call_errors_by_code", s.first_errors_by_code},
                        {"timeouts", s.first_timeouts},
                        {"lost", s.first_lost}}},
                      {"to_booted_ms", dist(s.to_booted_ns)},
                      {"boot_ms", dist(s.boot_ns)},
                      {"first_call_ms", dist(s.first_call_ns)}};
    }
    if (!r.traffic) {
        return j;
    }
    json by_action = json::object();
    for (std::size_t i = 0; i < kActionCount; ++i) {
        if (k.sent_by_action[i] != 0) {
            by_action[std::string(action_name(static_cast<Action>(i)))] = k.sent_by_action[i];
        }
    }
    const Percentiles p = percentiles(r.calls.latencies_ns);
    j["mix"] = mix_name(o.mix);
    j["target_rate"] = o.rate;
    j["warmup_s"] = o.warmup_s;
    j["window_s"] = round_us(r.window_s);
    j["timeout_ms"] = o.timeout.count();
    j["calls"] = {{"sent", k.sent},
                  {"sent_by_action", by_action},
                  {"call_results", k.results},
                  {"call_errors", k.errors},
                  {"call_errors_by_code", k.errors_by_code},
                  {"timeouts", k.timeouts},
                  {"skipped", k.skipped},
                  {"lost", k.lost}};
    j["sent_per_s"] = round_us(per_second(k.sent, r.window_s));
    j["achieved_msgs_per_s"] = round_us(per_second(k.answered_in_window, r.window_s));
    j["latency_ms"] = {{"samples", p.samples}, {"p50", round_us(p.p50)},  {"p95", round_us(p.p95)},
                       {"p99", round_us(p.p99)}, {"p99.9", round_us(p.p999)}, {"max", round_us(p.max)},
                       {"mean", round_us(p.mean)}};
    j["oddities"] = {{"late_answers", r.oddities.late_answers},
                     {"unknown_answers", r.oddities.unknown_answers},
                     {"unparsable", r.oddities.unparsable},
                     {"gateway_calls", r.oddities.gateway_calls}};
    return j;
}

}  // namespace loadgen
