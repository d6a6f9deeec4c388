#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ocpp {

/// True when `text` is an RFC 3339 `date-time` (section 5.6): `YYYY-MM-DDTHH:MM:SS[.frac]`
/// followed by `Z` or `±HH:MM`. `T` and `Z` may be lower case; seconds may be 60 (leap second);
/// the day must exist in its month (leap years included). Allocation-free.
bool is_rfc3339_date_time(std::string_view text);

/// `YYYY-MM-DDTHH:MM:SS[.frac]` (no offset) read at `offset_minutes` east of UTC and written
/// in UTC with the same fraction (`…Z`); nullopt when `text` is not exactly that shape, names
/// no real moment, or is a leap second (which cannot be moved to another minute safely).
std::optional<std::string> local_date_time_to_utc(std::string_view text, int offset_minutes);

/// Reads "+HH:MM", "-HH:MM" or "Z" as minutes east of UTC.
std::optional<int> parse_utc_offset(std::string_view text);

}  // namespace ocpp
