#include "tools/billing/options.hpp"

#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

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
  --transactions-topic T     [ocpp.transactions]; a tenant's: <prefix>ocpp.transactions
  --meter-values-topic T     [<prefix>ocpp.meter-values]
  --sessions-topic T         compacted output, created when missing [<prefix>billing.sessions]
  --transactional-id ID      [ocpp-billing-<group>, with -<prefix> for a tenant's topics]
                             (<prefix>: what the transactions topic has before
                             "ocpp.transactions", such as "north." for tenant north: one
                             instance per tenant, neither sharing its output nor fencing
                             another's)
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
    bool meter_values_given = false;
    bool sessions_given = false;
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
    // A tenant's topics carry its prefix (the gateway's tenants: "north.ocpp.transactions"):
    // the other topics and the transactional id follow it, so each tenant's instance reads its
    // own meter values, writes its own sessions and fences no other tenant's instance.
    constexpr std::string_view kTransactions = "ocpp.transactions";
    std::string prefix;
    if (o.transactions_topic.size() > kTransactions.size() &&
        std::string_view(o.transactions_topic).substr(o.transactions_topic.size() - kTransactions.size()) == kTransactions) {
        prefix = o.transactions_topic.substr(0, o.transactions_topic.size() - kTransactions.size());
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
