#pragma once

// A structure-aware mutation for the fuzzers whose input is JSON, to define their
// LLVMFuzzerCustomMutator with. Byte mutations alone rarely turn `true` into `1`, a string into
// an object or an object into null while the text stays JSON, and a field of another type
// than the API's is just what a parser of API objects must survive. So half the time the input
// is parsed, one of its values (any depth) is replaced (by a value of each JSON type, a copy of
// another of its values, or the value wrapped in an array), or a member removed, and the result
// serialized; the other half, and for an input that is not JSON, libFuzzer's own mutations.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace weft::fuzz {

inline void CollectJsonValues(nlohmann::json& j, std::vector<nlohmann::json*>& out) {
  out.push_back(&j);
  if (j.is_structured()) {
    for (auto& v : j) CollectJsonValues(v, out);
  }
}

inline size_t MutateJson(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::minstd_rand rng(seed);
  if (rng() % 2 == 0) return LLVMFuzzerMutate(data, size, max_size);
  nlohmann::json doc = nlohmann::json::parse(data, data + size, nullptr, false);
  if (doc.is_discarded()) return LLVMFuzzerMutate(data, size, max_size);
  std::vector<nlohmann::json*> values;
  CollectJsonValues(doc, values);
  nlohmann::json& v = *values[rng() % values.size()];
  static const char* const kStrings[] = {"", "true", "410", "ADDED", "x:y", "a.b.svc"};
  switch (rng() % 11) {
    case 0:
      v = nullptr;
      break;
    case 1:
      v = rng() % 2 == 0;
      break;
    case 2:
      v = static_cast<int64_t>(rng() % 2 == 0 ? -1 : 410);
      break;
    case 3:
      v = static_cast<uint64_t>(rng() % 2 == 0 ? 0 : UINT64_MAX);
      break;
    case 4:
      v = rng() % 2 == 0 ? 1.5 : 1e300;
      break;
    case 5:
      v = kStrings[rng() % (sizeof(kStrings) / sizeof(kStrings[0]))];
      break;
    case 6:
      v = nlohmann::json::array({v});
      break;
    case 7:
      v = rng() % 2 == 0 ? nlohmann::json::object() : nlohmann::json::array();
      break;
    case 8: {
      nlohmann::json copy = *values[rng() % values.size()];  // before v changes under it
      v = std::move(copy);
      break;
    }
    default:  // a member removed
      if (v.is_object() && !v.empty()) {
        auto it = v.begin();
        std::advance(it, rng() % v.size());
        v.erase(it);
      } else {
        return LLVMFuzzerMutate(data, size, max_size);
      }
  }
  std::string out = doc.dump();
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

}  // namespace weft::fuzz
