#include "gateway/decisions/decision.hpp"

namespace gateway::decisions {

std::string_view source_name(Source s) {
    switch (s) {
        case Source::table:
            return "table";
        case Source::policy:
            return "policy";
        case Source::no_authorization:
            return "no-authorization";
        case Source::registry:
            return "registry";
        case Source::ask:
            return "ask";
        case Source::timeout_fallback:
            return "timeout-fallback";
    }
    return "policy";
}

}  // namespace gateway::decisions
