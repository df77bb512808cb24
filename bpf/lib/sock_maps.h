/*
 * Maps of the socket-connect redirection. Layouts and names come from abi/sock_connect.h. A
 * program that includes this header gets its own copy of each map in its object; the loader
 * (agent/datapath) makes every object share one instance per name, by bpf_map__reuse_fd of the
 * instance it created first or of the one pinned under the bpf root. The definitions carry no
 * pinning attribute, so tests can load private, unpinned copies.
 *
 * Hash maps are BPF_F_NO_PREALLOC: the kernel allocates an element when it is inserted (with
 * the BPF memory allocator, safe in every program context), so memory follows use and the
 * large default capacities cost nothing until filled. A full map still fails with E2BIG.
 */
#pragma once

#include "lib/common.h"
#include "abi/sock_connect.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WEFT_ENROLLED_NETNS_MAX);
	__type(key, __u64); /* netns cookie */
	__type(value, struct weft_enrolled_netns);
} WEFT_MAP_ENROLLED_NETNS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WEFT_SERVICES_MAX);
	__type(key, struct weft_service_key);
	__type(value, struct weft_service_value);
} WEFT_MAP_SERVICES SEC(".maps");

/*
 * A plain hash, not an LRU: an LRU never reports full, it evicts the oldest
 * entry, which may belong to a connection the proxy has not accepted yet. That connection
 * would reach the proxy with no destination, a loss nobody counts. With a plain hash, full is
 * visible at connect() time (WEFT_SOCK_ORIG_DST_MAP_FULL) and the entries are freed by the
 * cgroup/sock_release program, so the map holds one entry per live redirected socket.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WEFT_ORIG_DST_MAX);
	__type(key, __u64); /* socket cookie (SO_COOKIE) */
	__type(value, struct weft_orig_dst);
} WEFT_MAP_ORIG_DST SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_SOCK_VERDICT_COUNT);
	__type(key, __u32); /* enum weft_sock_verdict */
	__type(value, __u64);
} WEFT_MAP_SOCK_COUNTERS SEC(".maps");
