// OCPP_GATEWAY_* variables: the settings they name, and the ones that name none.
#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config/options.hpp"
#include "ocpp/types.hpp"

namespace gateway::config {
namespace {

constexpr std::string_view kPrefix = "OCPP_GATEWAY_";
constexpr std::string_view kKafkaProperty = "OCPP_GATEWAY_KAFKA_PROP_";

/// Edits (insert, delete, replace) between `a` and `b`, counting at most to `limit` + 1.
std::size_t distance(std::string_view a, std::string_view b, std::size_t limit) {
    const std::size_t gap = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
    if (gap > limit) {
        return limit + 1;
    }
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// What to say of a variable that names no setting: the nearest one, if one is close.
std::string unknown_variable(const std::string& name) {
    std::string_view nearest;
    // A slip is an edit in four letters of the part after the prefix, two at most: BIN is not
    // a slip of ID.
    std::size_t best = std::min<std::size_t>(2, (name.size() - kPrefix.size()) / 4) + 1;
    for (const auto& o : options()) {
        if (o.env.empty()) {
            continue;
        }
        if (const std::size_t d = distance(name, o.env, best - 1); d < best) {
            best = d;
            nearest = o.env;
        }
    }
    std::string text = "environment " + name + " names no setting and is ignored";
    if (!nearest.empty()) {
        text += " (did you mean " + std::string(nearest) + "?)";
    }
    return text + "; the variables are in --help";
}

/// Kubernetes gives a pod variables for each Service of its namespace (unless
/// enableServiceLinks is off): a Service named ocpp-gateway makes OCPP_GATEWAY_SERVICE_HOST,
/// OCPP_GATEWAY_PORT_9000_TCP_ADDR and so on. No setting has such a name; they are not slips.
/// One that ends in PORT is a link only with a link's value (tcp://10.96.0.7:9000): an
/// OCPP_GATEWAY_LISTEN_PORT=9000 is a guess at a setting, and warned of.
bool service_link(std::string_view name, std::string_view value) {
    const std::string_view rest = name.substr(kPrefix.size());
    const auto has = [&rest](std::string_view part) { return rest.find(part) != std::string_view::npos; };
    const bool ends_port = rest.size() >= 4 && rest.substr(rest.size() - 4) == "PORT";
    const bool link_value = value.rfind("tcp://", 0) == 0 || value.rfind("udp://", 0) == 0 ||
                            value.rfind("sctp://", 0) == 0;
    return has("SERVICE_HOST") || has("SERVICE_PORT") || (ends_port && link_value) ||
           (has("PORT_") && (has("_TCP") || has("_UDP") || has("_SCTP")));
}

}  // namespace

std::vector<std::string> apply_environment(Config& c, const std::map<std::string, std::string>& env) {
    std::vector<std::string> unused;
    for (const auto& [name, value] : env) {
        if (name.rfind(kKafkaProperty, 0) == 0) {
            std::string property = ocpp::ascii_lower(name.substr(kKafkaProperty.size()));
            std::replace(property.begin(), property.end(), '_', '.');
            c.kafka.properties[property] = value;
            continue;
        }
        if (name.rfind(kPrefix, 0) != 0) {
            continue;
        }
        const auto& all = options();
        const auto o = std::find_if(all.begin(), all.end(), [&variable = name](const Option& x) { return x.env == variable; });
        if (o == all.end()) {
            if (!service_link(name, value)) {
                unused.push_back(unknown_variable(name));
            }
        } else if (!o->path.empty()) {
            o->set(c, value, name);
        }
    }
    return unused;
}

}  // namespace gateway::config
