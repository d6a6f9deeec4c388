#include "tools/billing/options.hpp"

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

namespace billing {
namespace {

constexpr const char* kUsage = R"(ocpp-billing: the reference billing consumer of the OCPP gateway's topics

Usage: ocpp-billing [options]

Reads the transaction and meter-value topics (read_committed), joins each charging session
(1.6 Start/MeterValues/Stop by transactionId, 2.0.1 TransactionEvents by transactionId),
merges resends idempotently, and writes one record per session (schemas/events/billing-session.
schema.json) to a compacted topic, exactly once (Kafka transactions, offsets in the
transaction). One instance per group: a second one with the same transactional id fences the
first.

  --brokers LIST             bootstrap servers [127.0.0.1:9092]
  --group NAME               consumer group [ocpp-billing]
  --topic-prefix P           a gateway tenant's topic prefix (north.): put before every topic
                             name below, and -P (without its last dot) after the
                             transactional id, so each tenant's instance reads its own
                             topics, writes its own sessions and fences no other's []
  --transactions-topic T     [<P>ocpp.transactions]
  --meter-values-topic T     [<P>ocpp.meter-values]
  --sessions-topic T         compacted output, created when missing [<P>billing.sessions]
  --transactional-id ID      [ocpp-billing-<group>[-<P>]]
  --property K=V             any librdkafka property (SASL, TLS, ...), repeatable
  --batch N                  records read into one transaction at most [500]
  --retire-after-hours H     an event for a closed session more than H hours (by the
                             records' times) after its last change is late: logged, not
                             applied; such sessions leave memory; 0: never [72]
  --clock-slack-s S          how far record times may run behind (producers' clocks and
                             delivery time), kept back when retiring [600]
  --print                    print each session record of a closed session once its
                             transaction is committed
  --help
Options take their value as the next argument or after '=' (--group=billing); a value that
starts with "--" must be given after '='.
Exit codes: 0 stopped (SIGTERM/SIGINT), 2 bad options, 3 Kafka failed (restart: state and
offsets are where the last committed transaction left them), 4 refused to start: the sessions
topic is not compacted or holds a record this version cannot read (restarting does not help).
)";

}  // namespace

bool parse_options(int argc, char** argv, Options& o) {
    bool transactions_given = false;
    bool meter_values_given = false;
    bool sessions_given = false;
    std::string prefix;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        std::optional<std::string> inline_value;  // --name=value
        if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_value = a.substr(eq + 1);
            a.resize(eq);
        }
        auto value = [&](std::string& out) {
            if (inline_value) {
                out = *inline_value;
                inline_value.reset();
            } else if (i + 1 >= argc) {
                throw std::runtime_error(a + " needs a value");
            } else if (const std::string next = argv[i + 1]; next.rfind("--", 0) == 0) {
                throw std::runtime_error(a + " needs a value, got the option \"" + next +
                                         "\" (a value that starts with \"--\" goes after '=': " + a + "=" + next + ")");
            } else {
                out = next;
                ++i;
            }
            if (out.empty()) {
                throw std::runtime_error(a + " needs a value, got an empty one");
            }
        };
        if (a == "--help" || a == "-h") {
            if (inline_value) {
                throw std::runtime_error(a + " takes no value");
            }
            std::fputs(kUsage, stdout);
            return false;
        } else if (a == "--brokers") {
            value(o.brokers);
        } else if (a == "--group") {
            value(o.group);
        } else if (a == "--transactions-topic") {
            value(o.transactions_topic);
            transactions_given = true;
        } else if (a == "--topic-prefix") {
            value(prefix);
            if (prefix.empty() || prefix.find_first_not_of(
                                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                                      std::string::npos) {
                throw std::runtime_error("--topic-prefix: expected letters, digits, . _ -, got \"" + prefix + "\"");
            }
        } else if (a == "--meter-values-topic") {
            value(o.meter_values_topic);
            meter_values_given = true;
        } else if (a == "--sessions-topic") {
            value(o.sessions_topic);
            sessions_given = true;
        } else if (a == "--transactional-id") {
            value(o.transactional_id);
        } else if (a == "--property") {
            std::string kv;
            value(kv);
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) {
                throw std::runtime_error("--property: expected K=V, got \"" + kv + "\"");
            }
            o.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
        } else if (a == "--batch") {
            std::string n;
            value(n);
            int batch = 0;
            const bool digits = n.size() <= 6 && n.find_first_not_of("0123456789") == std::string::npos;
            if (digits) {
                batch = std::stoi(n);
            }
            if (!digits || batch < 1 || batch > 100000) {
                throw std::runtime_error("--batch: expected a number of records from 1 to 100000, got \"" + n + "\"");
            }
            o.batch = batch;
        } else if (a == "--retire-after-hours") {
            std::string h;
            value(h);
            std::size_t used = 0;
            double hours = -1;
            try {
                hours = std::stod(h, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used == 0 || used != h.size() || h.find_first_not_of("0123456789.") != std::string::npos ||
                !(hours >= 0 && hours <= 24.0 * 3650)) {
                throw std::runtime_error("--retire-after-hours: expected hours from 0 (never) to 87600, got \"" + h + "\"");
            }
            o.retire_after_hours = hours;
        } else if (a == "--clock-slack-s") {
            std::string n;
            value(n);
            if (n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) {
                throw std::runtime_error("--clock-slack-s: expected seconds from 0 to 999999, got \"" + n + "\"");
            }
            o.clock_slack_s = std::stoi(n);
        } else if (a == "--print") {
            o.print_closed = true;
        } else {
            throw std::runtime_error("unknown option \"" + a + "\" (see --help)");
        }
        if (inline_value) {
            throw std::runtime_error(a + " takes no value");
        }
    }
    // A gateway tenant's topics carry its prefix (north.ocpp.transactions): given, it goes
    // before every topic not named, and after the transactional id, so each tenant's instance
    // reads its own topics, writes its own sessions and fences no other tenant's instance.
    if (!transactions_given) {
        o.transactions_topic = prefix + "ocpp.transactions";
    }
    if (!meter_values_given) {
        o.meter_values_topic = prefix + "ocpp.meter-values";
    }
    if (!sessions_given) {
        o.sessions_topic = prefix + "billing.sessions";
    }
    if (o.transactional_id.empty()) {
        std::string tenant = prefix;
        while (!tenant.empty() && tenant.back() == '.') {
            tenant.pop_back();
        }
        o.transactional_id = "ocpp-billing-" + o.group + (tenant.empty() ? "" : "-" + tenant);
    }
    return true;
}

}  // namespace billing
