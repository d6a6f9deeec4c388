#include "gateway/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <unistd.h>

#include "gateway/config/options.hpp"
#include "ocpp/rfc3339.hpp"

namespace gateway::config {
namespace {

using Shape = Option::Shape;

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

/// `node`'s text; `at`: where to say it is when it is none (a value left out has no place of
/// its own: yaml-cpp marks the next token).
std::string scalar(const YAML::Node& node, const std::string& path, const YAML::Mark& at = YAML::Mark::null_mark()) {
    if (!node.IsScalar()) {
        const auto mark = node.IsNull() ? at : node.Mark();
        fail("config " + path + (mark.line >= 0 ? " (line " + std::to_string(mark.line + 1) + ")" : std::string()) +
             ": expected a single value");
    }
    return node.as<std::string>();
}

const Option* find_path(const std::string& path) {
    for (const auto& o : options()) {
        if (!o.path.empty() && o.path == path) {
            return &o;
        }
    }
    return nullptr;
}

bool is_section(const std::string& path) {
    const std::string prefix = path + ".";
    return std::any_of(options().begin(), options().end(),
                       [&](const Option& o) { return o.path.compare(0, prefix.size(), prefix) == 0; });
}

/// One entry of tolerance.profiles (README "Tolerance profiles").
ToleranceProfile parse_tolerance_profile(const YAML::Node& node, const std::string& where) {
    if (!node.IsMap()) {
        fail(where + ": expected a mapping {name, match, allow, assume_offset}");
    }
    ToleranceProfile profile;
    bool has_offset = false;
    for (const auto& entry : node) {
        const std::string key = entry.first.as<std::string>();
        const std::string at = where + "." + key;
        if (key == "name") {
            profile.name = scalar(entry.second, at);
        } else if (key == "match") {
            if (!entry.second.IsMap() || entry.second.size() == 0) {
                fail(at + ": expected a mapping of vendor, model, firmware and/or id "
                          "(id: \"*\" matches every station)");
            }
            for (const auto& m : entry.second) {
                const std::string field = m.first.as<std::string>();
                std::string* target = field == "vendor"     ? &profile.vendor
                                      : field == "model"    ? &profile.model
                                      : field == "firmware" ? &profile.firmware
                                      : field == "id"       ? &profile.id
                                                            : nullptr;
                if (target == nullptr) {
                    fail(at + "." + field + ": unknown; match by vendor, model, firmware or id");
                }
                *target = scalar(m.second, at + "." + field);
                if (target->empty()) {
                    fail(at + "." + field + ": empty pattern (leave it out to match anything)");
                }
            }
        } else if (key == "allow") {
            if (!entry.second.IsSequence() || entry.second.size() == 0) {
                fail(at + ": expected a list of repairs");
            }
            for (const auto& item : entry.second) {
                const std::string name = scalar(item, at);
                const auto rule = ocpp::parse_repair_rule(name);
                if (!rule) {
                    std::string known;
                    for (std::size_t i = 0; i < ocpp::kRepairRuleCount; ++i) {
                        known += (i == 0 ? "" : ", ") +
                                 std::string(ocpp::repair_rule_name(static_cast<ocpp::RepairRule>(i)));
                    }
                    fail(at + ": unknown repair \"" + name + "\" (known: " + known + ")");
                }
                profile.policy.allow(*rule);
            }
        } else if (key == "assume_offset") {
            const std::string text = scalar(entry.second, at);
            const auto offset = ocpp::parse_utc_offset(text);
            if (!offset) {
                fail(at + ": \"" + text + "\" is not a UTC offset (+HH:MM, -HH:MM or Z)");
            }
            profile.policy.assume_offset_minutes = *offset;
            has_offset = true;
        } else {
            fail(at + ": unknown; a profile has name, match, allow and assume_offset");
        }
    }
    if (profile.name.empty()) {
        fail(where + ": every profile needs a name");
    }
    if (profile.name.size() > 64 ||
        profile.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
            std::string::npos) {
        fail(where + ".name: \"" + profile.name + "\" must be 1-64 of A-Z a-z 0-9 . _ - (it is a metric label)");
    }
    if (profile.vendor.empty() && profile.model.empty() && profile.firmware.empty() && profile.id.empty()) {
        fail(where + " (" + profile.name + "): needs match (id: \"*\" matches every station)");
    }
    if (profile.policy.allowed == 0) {
        fail(where + " (" + profile.name + "): needs allow, the repairs it permits");
    }
    if (has_offset && !profile.policy.allows(ocpp::RepairRule::timestamp_without_offset)) {
        fail(where + " (" + profile.name + "): assume_offset is only read by timestamp-without-offset");
    }
    return profile;
}

void apply_node(Config& c, const Option& o, const YAML::Node& node) {
    const std::string where = "config " + o.path;
    switch (o.shape) {
        case Shape::scalar:
            o.set(c, scalar(node, o.path), where);
            return;
        case Shape::list:
            if (!node.IsSequence()) {
                fail(where + ": expected a list");
            }
            if (o.clear) {
                o.clear(c);
            }
            for (const auto& item : node) {
                o.set(c, scalar(item, o.path), where);
            }
            return;
        case Shape::map:
            if (!node.IsMap()) {
                fail(where + ": expected a mapping");
            }
            for (const auto& entry : node) {
                const auto key = entry.first.as<std::string>();
                o.set(c, key + "=" + scalar(entry.second, o.path + "." + key, entry.first.Mark()), where);
            }
            return;
        case Shape::certificates:
            if (!node.IsSequence()) {
                fail(where + ": expected a list of {cert, key}");
            }
            o.clear(c);
            for (const auto& entry : node) {
                if (!entry.IsMap() || !entry["cert"] || !entry["key"] || entry.size() != 2) {
                    fail(where + ": every entry needs cert and key, and nothing else");
                }
                c.tls.certificates.push_back({scalar(entry["cert"], o.path + ".cert"),
                                              scalar(entry["key"], o.path + ".key")});
            }
            return;
        case Shape::profiles:
            if (!node.IsSequence()) {
                fail(where + ": expected a list of profiles");
            }
            o.clear(c);
            for (std::size_t i = 0; i < node.size(); ++i) {
                ToleranceProfile profile =
                    parse_tolerance_profile(node[i], where + "[" + std::to_string(i) + "]");
                for (const auto& earlier : c.tolerance) {
                    if (earlier.name == profile.name) {
                        fail(where + ": two profiles are named \"" + profile.name + "\"");
                    }
                }
                c.tolerance.push_back(std::move(profile));
            }
            return;
    }
}

/// What replaced a setting of an earlier release, for the error that names it.
const char* replacement_of(const std::string& path) {
    if (path == "reply.authorize.accept_all") {
        return "use reply.authorize.unknown_tokens: Accepted for an open network (README "
               "\"Authorization and boot decisions\")";
    }
    if (path == "reply.authorize.tokens") {
        return "write the tokens to the id-token topic (README \"Authorization and boot decisions\")";
    }
    return nullptr;
}

/// Applies a YAML mapping at `path` (empty: the root): every key must be a setting or a
/// section of settings, given once (yaml-cpp keeps a repeated key, and the last would win
/// unseen); a setting needs a value (an empty one, a template's variable that expanded to
/// nothing say, would leave the default standing unseen), an empty section is no change.
void apply_yaml(Config& c, const YAML::Node& map, const std::string& path, std::set<std::string>& seen) {
    if (!map.IsMap()) {
        fail("config " + (path.empty() ? std::string("file") : path) + ": expected a mapping");
    }
    for (const auto& entry : map) {
        const std::string key = entry.first.as<std::string>();
        const std::string full = path.empty() ? key : path + "." + key;
        if (!seen.insert(full).second) {
            fail("config " + full + ": given twice (line " + std::to_string(entry.first.Mark().line + 1) + ")");
        }
        if (const Option* o = find_path(full)) {
            if (entry.second.IsNull()) {
                fail("config " + full + ": no value (line " + std::to_string(entry.first.Mark().line + 1) +
                     "); leave the key out for the default");
            }
            apply_node(c, *o, entry.second);
        } else if (is_section(full)) {
            if (!entry.second.IsNull()) {
                apply_yaml(c, entry.second, full, seen);
            }
        } else if (const char* replaced = replacement_of(full)) {
            fail("config " + full + ": no longer a setting; " + replaced);
        } else {
            fail("config " + full + ": unknown setting");
        }
    }
}

/// Kafka's rule for topic names: 1 to 249 of a-z A-Z 0-9 . _ -, and not "." or "..".
void check_topic_name(const std::string& name, const std::string& key) {
    const bool valid = !name.empty() && name.size() <= 249 && name != "." && name != ".." &&
                       std::all_of(name.begin(), name.end(), [](char ch) {
                           return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
                       });
    if (!valid) {
        fail("config " + key + ": \"" + name + "\" is not a Kafka topic name (1 to 249 of "
             "a-z A-Z 0-9 . _ -, not . or ..)");
    }
}

/// Tenants apart: distinct names, no topic shared, nothing that would let one tenant's
/// station in as another's.
void validate_tenants(const Config& c) {
    auto is_tenant = [&c](const std::string& name) {
        return std::any_of(c.tenants.begin(), c.tenants.end(), [&name](const Tenant& t) { return t.name == name; });
    };
    for (const auto& [name, brokers] : c.tenant_brokers) {
        if (!is_tenant(name)) {
            fail("config tenant_kafka.brokers: " + name + " is not a tenant (tenants: [...])");
        }
    }
    for (const auto& [name, properties] : c.tenant_kafka_properties) {
        if (c.tenant_brokers.count(name) == 0) {
            fail("config tenant_kafka.properties: " + name + " has no cluster of its own "
                 "(tenant_kafka.brokers." + name + ")");
        }
    }
    if (c.tenants.empty()) {
        return;
    }
    if (!c.security.stations_file.empty()) {
        fail("config: security.stations_file cannot be used with tenants (it would admit its "
             "stations in every tenant); each tenant's registry is its own stations topic");
    }
    if (!c.allowed_stations.empty()) {
        fail("config: stations.allow cannot be used with tenants (it would admit its "
             "stations in every tenant); each tenant's registry is its own stations topic");
    }
    std::map<std::string, std::string> owner;  // topic → tenant
    for (const auto& [role, topic] : topic_roles(c)) {
        if (role == "security") {
            owner[topic] = "(the gateway's own security events)";
        }
    }
    std::set<std::string> names;
    for (const auto& tenant : c.tenants) {
        if (!names.insert(tenant.name).second) {
            fail("config tenants: " + tenant.name + " is listed twice");
        }
        for (const auto& [role, topic] : topic_roles(tenant_config(c, tenant))) {
            check_topic_name(topic, "topics." + role + " of tenant " + tenant.name);
            auto [it, fresh] = owner.emplace(topic, tenant.name);
            if (!fresh && it->second != tenant.name) {  // its own roles may share, as above
                fail("config tenants: topic " + topic + " (" + role + ") of tenant " + tenant.name +
                     " is also a topic of " + it->second + "; give each tenant a prefix of its own");
            }
        }
    }
}

/// Whether binding both would clash: one port, and one address or a wildcard that covers the
/// other (`::` takes IPv4 as well, as Linux binds it by default).
bool endpoints_overlap(const Endpoint& a, const Endpoint& b) {
    if (a.port != b.port) {
        return false;
    }
    const auto x = parse_network(a.host);
    const auto y = parse_network(b.host);
    if (!x || !y) {
        return a.host == b.host;
    }
    auto normal = [](asio::ip::address address) {
        if (address.is_v6() && address.to_v6().is_v4_mapped()) {
            return asio::ip::address(asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()));
        }
        return address;
    };
    const auto p = normal(x->address);
    const auto q = normal(y->address);
    const auto covers = [](const asio::ip::address& wide, const asio::ip::address& other) {
        return wide.is_unspecified() && (wide.is_v6() || other.is_v4());
    };
    return p == q || covers(p, q) || covers(q, p);
}

void validate(Config& c) {
    if (c.gateway_id.empty()) {
        char host[HOST_NAME_MAX + 1] = {};
        gethostname(host, sizeof(host) - 1);
        c.gateway_id = host[0] != '\0' ? host : "ocpp-gateway";
    }
    for (const auto& pair : c.tls.certificates) {
        if (pair.key.empty()) {
            fail("TLS certificate " + pair.cert + " has no key (--tls-key after --tls-cert)");
        }
    }
    if (c.security.handshakes_per_second == 0) {
        // A reconnection with a full TLS handshake costs the gateway 0.9-1.5 ms of CPU, one
        // without 0.37-0.5 ms: the two vCPUs of docs/benchmarks.md took 745-1,020 and about
        // 2,000 a second beside the broker (2,000 brings a storm of 18,000 back in 10 s).
        const bool tls_here = c.security.profile >= 2 && !c.tls.offload;
        c.security.handshakes_per_second = tls_here ? kHandshakesPerSecondTls : kHandshakesPerSecondPlain;
    }
    if (c.tls.offload) {
        if (c.security.profile < 2) {
            fail("tls.offload is for security profiles 2 and 3 (TLS at the load balancer); profile " +
                 std::to_string(c.security.profile) + " has no TLS");
        }
        if (c.tls.offload_from.empty()) {
            fail("tls.offload needs tls.offload_from: the addresses of the load balancers that terminate "
                 "TLS (connections from anywhere else would bypass it)");
        }
        if (!c.tls.certificates.empty()) {
            fail("tls.offload: the load balancer holds the TLS certificates; tls.certificates must be empty");
        }
        if (c.security.profile == 3 && c.tls.client_cert_header.empty()) {
            fail("tls.offload with profile 3 needs tls.client_cert_header (the header carrying the station's certificate)");
        }
    } else if (c.security.profile >= 2 && c.tls.certificates.empty()) {
        fail("security profile " + std::to_string(c.security.profile) +
             " needs a TLS certificate and key (tls.certificates or --tls-cert/--tls-key)");
    }
    if (c.security.profile == 3 && c.tls.ca_file.empty()) {
        fail("security profile 3 needs the CA bundle of station certificates (tls.ca_file or --tls-ca)");
    }
    if (c.security.profile < 2 && !c.tls.certificates.empty()) {
        fail("TLS certificates are configured but security profile " +
             std::to_string(c.security.profile) + " listens without TLS (use profile 2 or 3)");
    }
    // A topic that takes the largest record the gateway writes (a frame at the limit in its
    // envelope) then takes every batch too; with librdkafka's 1,000,000 a busy partition's
    // batch of small records could outgrow a topic's max.message.bytes and be refused whole.
    c.kafka.batch_bytes = c.limits.max_message_bytes;
    // Two missed liveness records, not one late one, make an instance gone.
    if (c.commands.group.find_first_not_of(' ') == std::string::npos) {
        fail("config commands.group: \"" + c.commands.group + "\" names no consumer group; the instances "
             "reading ocpp.commands share one (default ocpp-gateway)");
    }
    if (c.commands.heartbeat * 2 > c.commands.instance_timeout) {
        if (c.commands.heartbeat_given) {
            fail("config commands.heartbeat_ms " + std::to_string(c.commands.heartbeat.count()) +
                 " is more than half of commands.instance_timeout_ms " +
                 std::to_string(c.commands.instance_timeout.count()) +
                 ": one late liveness record would make this instance look gone");
        }
        c.commands.heartbeat = c.commands.instance_timeout / 3;
    }
    if (c.versions.empty()) {
        fail("config: at least one OCPP version must be enabled");
    }
    if (c.missing_subprotocol &&
        std::find(c.versions.begin(), c.versions.end(), *c.missing_subprotocol) ==
            c.versions.end()) {
        fail("config: missing_subprotocol names a version that is not enabled");
    }
    if (c.path_prefix.empty() || c.path_prefix.front() != '/' || c.path_prefix.back() == '/') {
        fail("config path_prefix: must start with '/' and not end with one (e.g. /ocpp)");
    }
    if (c.kafka.brokers.empty()) {
        fail("config: kafka brokers must be set (--kafka-brokers HOST:PORT[,HOST:PORT...])");
    }
    if (c.topic_replication > 0 && c.topic_min_insync > c.topic_replication) {
        fail("config kafka: min_insync_replicas (" + std::to_string(c.topic_min_insync) +
             ") must not exceed replication_factor (" + std::to_string(c.topic_replication) +
             "): no write with acks=all could ever succeed");
    }
    if (endpoints_overlap(c.listen, c.admin_listen)) {
        fail("config: listen (" + c.listen.to_string() + ") and admin_listen (" + c.admin_listen.to_string() +
             ") must differ: they would bind the same port on the same address");
    }
    for (const auto& [role, contract] : c.contract) {
        const int replication = contract.replication > 0 ? contract.replication : c.topic_replication;
        const int min_insync = contract.min_insync > 0 ? contract.min_insync : c.topic_min_insync;
        if (replication > 0 && min_insync > replication) {
            fail("config contract." + role + ": min_insync_replicas " + std::to_string(min_insync) +
                 (contract.min_insync > 0 ? "" : " (kafka.min_insync_replicas)") + " exceeds replication_factor " +
                 std::to_string(replication) + (contract.replication > 0 ? "" : " (kafka.replication_factor)") +
                 ": no write with acks=all could ever succeed");
        }
    }
    const auto roles = topic_roles(c);
    for (const auto& [role, topic] : roles) {
        check_topic_name(topic, "topics." + role);
        if (role != "transaction_ids" && topic == c.topics.transaction_ids) {
            fail("config topics." + role + ": " + topic + " is the transaction-id topic; that "
                 "one must be a topic of its own (exactly one partition, offsets as numbers)");
        }
    }
    // Streams may share a topic (all events on one, say); what the gateway reads back, or an
    // operator's service answers on, may not: records of another shape would be read there.
    static const std::set<std::string> kOwnTopic = {
        "commands", "command_results", "command_routes", "presence", "stations", "id_tokens",
        "authorization_requests", "authorization_decisions"};
    for (const auto& [role, topic] : roles) {
        if (kOwnTopic.count(role) == 0) {
            continue;
        }
        for (const auto& [other, other_topic] : roles) {
            if (other != role && other != "transaction_ids" && other_topic == topic) {
                fail("config topics." + role + ": " + topic + " is also topics." + other +
                     "; it must be a topic of its own");
            }
        }
    }
    validate_tenants(c);
    check_kafka(c);
    const std::set<std::string> levels = {"debug", "info", "warn", "error"};
    if (levels.count(c.log_level) == 0) {
        fail("config log_level: \"" + c.log_level + "\" is not one of debug, info, warn, error");
    }
    if (c.limits.pong_timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(
                                     c.limits.ping_interval) &&
        c.limits.ping_interval.count() > 0) {
        fail("config limits: pong_timeout_ms must be shorter than ping_interval_s");
    }
    if (c.reply.ask != Config::Reply::Ask::never && c.reply.ask_classes.empty()) {
        fail("config reply.authorize.ask_classes is empty: with ask on, name the classes whose token "
             "questions are asked (authorization, transaction), or set ask: never");
    }
    if (c.limits.ping_interval.count() == 0 && c.limits.idle_timeout.count() > 0 &&
        c.reply.heartbeat_interval >= c.limits.idle_timeout) {
        fail("config limits.idle_timeout_s " + std::to_string(c.limits.idle_timeout.count()) +
             " would close stations that heartbeat as told: without pings (ping_interval_s 0) a "
             "station is heard at its heartbeats, every reply.heartbeat_interval_s " +
             std::to_string(c.reply.heartbeat_interval.count()) + " s; make the idle timeout longer, or 0");
    }
}

}  // namespace

std::string_view reply_mode_name(ReplyMode m) {
    return m == ReplyMode::after_ack ? "after-ack" : "immediate";
}

std::string Endpoint::to_string() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
           std::to_string(port);
}

std::string help_text() {
    std::string out = R"(ocpp-gateway: OCPP 1.6 / 2.0.1 central-system gateway to Kafka

Usage: ocpp-gateway [options]
       ocpp-gateway hash-password [--iterations N] < password   (prints a registry hash)
       ocpp-gateway topics plan|apply|check [options]   (the topics against their contract:
           plan prints the differences, apply creates and raises, check exits 1 on any;
           docs/contract.md)
       ocpp-gateway tolerance suggest [options]   (tolerance profiles for the station models
           in the dead-letter topic; README "Tolerance profiles")
       ocpp-gateway check-config [options]   (reads the configuration as a start would,
           prints what it would serve, exit 2 with the problem; touches nothing)

Options (flags override OCPP_GATEWAY_* environment variables, which override the file; every
file key with its default is in deploy/gateway.example.yaml):
)";
    const Config defaults;
    for (const auto& o : options()) {
        if (o.flag.empty()) {
            continue;
        }
        std::string line = "  " + std::string(o.flag) + " " + std::string(o.value);
        line.resize(std::max<std::size_t>(line.size() + 1, 28), ' ');
        line += o.help;
        if (o.show) {
            line += " [" + o.show(defaults) + "]";
        }
        if (!o.env.empty()) {
            line += "  " + std::string(o.env);
        }
        out += line + "\n";
    }
    out += R"(  Environment only: OCPP_GATEWAY_ADMIN_TOKEN (bearer token for /v1 and /metrics; never a
  flag: command lines are visible to every local user), OCPP_GATEWAY_KAFKA_PROP_<NAME>.
  --help, --version

Stations connect to ws://HOST:PORT/ocpp/{stationId} with subprotocol ocpp1.6, ocpp2.0.1 or ocpp2.1.
)";
    return out;
}

namespace {

bool is_flag(const std::string& arg, std::string_view flag) {
    return arg == flag || (arg.size() > flag.size() && arg.compare(0, flag.size(), flag) == 0 &&
                           arg[flag.size()] == '=');
}

/// The value of flag `flag` at args[i] ("--flag=value" or "--flag value"), moving i past it.
std::string value_of(const std::vector<std::string>& args, std::size_t& i, std::string_view flag) {
    const std::string& arg = args[i];
    if (arg.size() > flag.size() && arg[flag.size()] == '=') {
        return arg.substr(flag.size() + 1);
    }
    if (i + 1 >= args.size()) {
        fail(std::string(flag) + " needs a value");
    }
    return args[++i];
}

CommandLine parse_hash_password(const std::vector<std::string>& args) {
    CommandLine cl;
    cl.action = CommandLine::Action::hash_password;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (!is_flag(args[i], "--iterations")) {
            fail("hash-password: unknown option \"" + args[i] +
                 "\" (it reads the password from standard input; --iterations N)");
        }
        cl.iterations = static_cast<unsigned>(
            parse_integer(value_of(args, i, "--iterations"), "--iterations", 1000, 10000000));
    }
    return cl;
}

void load_file(Config& c, const std::string& file) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
        fail("config file " + file + " is a directory; name the YAML file in it");
    }
    YAML::Node root;
    try {
        root = YAML::LoadFile(file);
    } catch (const YAML::BadFile&) {
        fail("cannot read config file " + file);
    } catch (const YAML::Exception& e) {
        fail("config file " + file + ": " + e.what());
    }
    if (root.IsNull()) {
        return;
    }
    try {
        std::set<std::string> seen;
        apply_yaml(c, root, "", seen);
    } catch (const YAML::Exception& e) {
        fail("config file " + file + ": " + e.what());
    }
}

/// The configuration of `args` (the arguments after the program name, or after a
/// subcommand's verb): defaults, file, environment, flags, checked.
CommandLine parse_options(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env) {
    CommandLine cl;
    // The file comes first, whatever the position of --config.
    std::string config_file;
    std::string config_from;  // where it was named
    if (auto it = env.find("OCPP_GATEWAY_CONFIG"); it != env.end()) {
        config_file = it->second;
        config_from = "environment OCPP_GATEWAY_CONFIG";
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            cl.action = CommandLine::Action::help;
            return cl;
        }
        if (args[i] == "--version") {
            cl.action = CommandLine::Action::version;
            return cl;
        }
        if (is_flag(args[i], "--config")) {
            config_file = value_of(args, i, "--config");
            config_from = "--config";
        }
    }
    Config& c = cl.config;
    if (!config_from.empty() && config_file.empty()) {
        // A template that expanded to nothing, most likely: running on every default instead
        // would hide it.
        fail(config_from + " is empty; name a YAML file (or leave it out to run on the defaults)");
    }
    if (!config_file.empty()) {
        load_file(c, config_file);
    }
    cl.warnings = apply_environment(c, env);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& all = options();
        const auto o = std::find_if(all.begin(), all.end(), [&](const Option& x) {
            return !x.flag.empty() && is_flag(args[i], x.flag);
        });
        if (o == all.end()) {
            fail("unknown option \"" + args[i] + "\" (see --help)");
        }
        const std::string flag(o->flag);
        o->set(c, value_of(args, i, flag), flag);
    }
    validate(c);
    return cl;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv,
                               const std::map<std::string, std::string>& env) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "hash-password") {
        return parse_hash_password(args);
    }
    // Subcommands that act on the cluster with the gateway's own configuration.
    const std::map<std::string, std::pair<CommandLine::Action, std::vector<std::string>>> tools = {
        {"topics", {CommandLine::Action::topics, {"plan", "apply", "check"}}},
        {"tolerance", {CommandLine::Action::tolerance, {"suggest"}}}};
    if (const auto tool = args.empty() ? tools.end() : tools.find(args[0]); tool != tools.end()) {
        const auto& [action, verbs] = tool->second;
        if (args.size() < 2 || std::find(verbs.begin(), verbs.end(), args[1]) == verbs.end()) {
            std::string list;
            for (std::size_t i = 0; i < verbs.size(); ++i) {
                list += (i == 0 ? "" : i + 1 == verbs.size() ? " or " : ", ") + verbs[i];
            }
            fail(tool->first + ": say " + list + " (then the gateway's own options: --config, "
                 "--kafka-brokers, ...)");
        }
        // The rest are the gateway's options: the same configuration names the same topics.
        CommandLine cl = parse_options({args.begin() + 2, args.end()}, env);
        if (cl.action == CommandLine::Action::run) {
            cl.action = action;
            cl.verb = args[1];
        }
        return cl;
    }
    const bool check_only = !args.empty() && args[0] == "check-config";
    CommandLine cl = parse_options(check_only ? std::vector<std::string>(args.begin() + 1, args.end()) : args, env);
    if (cl.action == CommandLine::Action::run) {
        refuse_unacknowledged_exposure(cl.config);
        if (check_only) {
            cl.action = CommandLine::Action::check_config;
        }
    }
    return cl;
}

}  // namespace gateway::config
