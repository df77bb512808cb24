#pragma once

// String concatenation for messages. (absl::StrCat does not take std::string_view in the
// Debian build of Abseil, where absl::string_view is its own type.)

#include <string>
#include <string_view>
#include <type_traits>

namespace weft::identity::internal {

inline void Append(std::string& out, std::string_view s) {
  out.append(s);
}
template <typename T>
requires std::is_integral_v<T>
void Append(std::string& out, T v) {
  out.append(std::to_string(v));
}

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (Append(out, args), ...);
  return out;
}

}  // namespace weft::identity::internal
