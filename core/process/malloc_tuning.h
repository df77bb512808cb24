#pragma once
// glibc's per-thread cache of freed blocks (tcache) keeps 7 blocks per size class by default.
// A proxy frees its requests in batches: the streams of one read (16-64 requests, each with
// its header strings, stream and exchange objects) end together, so most frees overflow the
// tcache into the arena's bins and the next batch's mallocs take the slow path again
// (callgrind, the waypoint over HTTP/2: ~70 allocations per request, a quarter of its
// instructions in malloc and free; 10 % fewer instructions with a larger tcache).
//
// glibc reads its tunables (GLIBC_TUNABLES) once, in the dynamic loader, before main: the
// only way for a program to set them for itself is to execute itself again with them in its
// environment. EnsureMallocTuning does that, once, at the very start of main. Running with
// GLIBC_TUNABLES already naming glibc.malloc.tcache_count (an operator's choice, or the
// second start) changes nothing; WEFT_MALLOC_TUNING=off turns it off. Children inherit the
// variable, so a process the tuned one starts is tuned from its first instruction.

#include <optional>
#include <string>
#include <string_view>

namespace weft::process {

// Blocks per size class in the thread cache (glibc's default: 7; its maximum: 65535).
inline constexpr int kTcacheCount = 256;

// The GLIBC_TUNABLES value to execute with, given the current one (nullptr: unset), or
// nullopt when nothing is to change (tcache_count already set, or tuning turned off).
std::optional<std::string> TunedGlibcTunables(const char* current, const char* opt_out);

// At the start of main: executes /proc/self/exe with the same arguments and the tuned
// GLIBC_TUNABLES, unless nothing is to change. Returns only when it did not execute (nothing
// to change, or the exec failed: the program then runs untuned).
void EnsureMallocTuning(char** argv);

}  // namespace weft::process
