#pragma once

#include <string_view>

namespace ocpp {

/// True when `text` is an RFC 3339 `date-time` (section 5.6): `YYYY-MM-DDTHH:MM:SS[.frac]`
/// followed by `Z` or `±HH:MM`. `T` and `Z` may be lower case; seconds may be 60 (leap second);
/// the day must exist in its month (leap years included). Allocation-free.
bool is_rfc3339_date_time(std::string_view text);

}  // namespace ocpp
